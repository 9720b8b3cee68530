"""Assigning an order by hand checks the technician's skills, as dispatch does.

Issue 31: dispatch only picks technicians who repair the appliance's kind, but naming a
technician in ``POST /work-orders/{id}/transitions`` skipped that check, so a washer
order could go to an AC-only technician. It is refused now with the API's usual shape
for a request with wrong details (422, ``detail`` says why), and nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from edge.contract import Fault, Kind
from gateway.workorders.service import WorkOrderService
from tests.gateway.workorders.helpers import add_device, finding, make_service
from tests.gateway.workorders.http_helpers import ADMIN_TOKEN, build_app, serve

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def stack(engine: Engine) -> Iterator[tuple[WorkOrderService, httpx.Client]]:
    service, _ = make_service(engine, auto_assign=False)
    with serve(build_app(service)) as url, httpx.Client(base_url=url + "/api/v1") as client:
        yield service, client


def add(client: httpx.Client, path: str, **body: object) -> str:
    r = client.post(path, json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    new_id: str = r.json()["id"]
    return new_id


def test_a_washer_order_cannot_be_assigned_to_an_ac_only_technician(
    stack: tuple[WorkOrderService, httpx.Client], engine: Engine
) -> None:
    service, client = stack
    add_device(engine, "wm-1", kind="washer", model="AUR-W8")
    order = service.on_finding(finding("wm-1", Fault.BEARING_WEAR, kind=Kind.WASHER)).order_id
    assert order is not None
    ac_only = add(client, "/technicians", name="AC only", skills=["ac"], regions=["CN-32"])
    # no skills of their own: the provider's count (as in dispatch), here AC only too
    ac_shop = add(client, "/providers", name="CoolFix", skills=["ac"], regions=["*"])
    via_shop = add(client, "/technicians", name="CoolFix tech", provider_id=ac_shop)
    washer = add(client, "/technicians", name="Washers", skills=["washer"], regions=["CN-32"])

    url = f"/work-orders/{order}/transitions"
    for tech in (ac_only, via_shop):
        r = client.post(url, json={"to": "assigned", "technician_id": tech}, headers=ADMIN)
        assert r.status_code == 422, r.text
        assert "does not repair washer" in r.json()["detail"]
        assert client.get(f"/work-orders/{order}", headers=ADMIN).json()["status"] == "open"

    r = client.post(url, json={"to": "assigned", "technician_id": washer}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["technician_id"] == washer
