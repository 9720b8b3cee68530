"""The REST API against a real uvicorn server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from edge.contract import Fault, Kind, WorkOrder, WorkOrderPage
from gateway.workorders.service import WorkOrderService
from tests.gateway.workorders.helpers import T0, add_device, finding, make_service
from tests.gateway.workorders.http_helpers import ADMIN_TOKEN, build_app, serve

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def stack(engine: Engine) -> Iterator[tuple[WorkOrderService, httpx.Client]]:
    service, _ = make_service(engine, auto_assign=False)
    with serve(build_app(service)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield service, client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_key(client: httpx.Client, **body: Any) -> str:
    response = client.post("/api/v1/api-keys", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def add_technician(client: httpx.Client, name: str, **extra: Any) -> str:
    body = {"name": name, "skills": ["ac", "washer"], "regions": ["CN-32"], **extra}
    response = client.post("/api/v1/technicians", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    tech_id: str = response.json()["id"]
    return tech_id


def test_list_returns_contract_fields_newest_first_with_cursor(
    stack: tuple[WorkOrderService, httpx.Client], engine: Engine
) -> None:
    service, client = stack
    for n in range(5):
        add_device(engine, f"ac-{n}")
        service.on_finding(finding(f"ac-{n}", at=T0 + timedelta(hours=n)))
    first = client.get("/api/v1/work-orders", params={"limit": 2}, headers=ADMIN)
    assert first.status_code == 200
    page = WorkOrderPage.model_validate_json(first.content)  # the contract's own shape
    assert [o.device_id for o in page.items] == ["ac-4", "ac-3"]
    assert page.next is not None
    raw = first.json()["items"][0]
    for field in WorkOrder.model_fields:
        assert field in raw, field
    assert raw["opened_at"] == "2026-07-14T17:05:00Z"
    assert raw["warranty"] == "in_warranty"
    second = client.get(
        "/api/v1/work-orders", params={"limit": 2, "cursor": page.next}, headers=ADMIN
    ).json()
    assert [o["device_id"] for o in second["items"]] == ["ac-2", "ac-1"]
    last = client.get(
        "/api/v1/work-orders", params={"limit": 2, "cursor": second["next"]}, headers=ADMIN
    ).json()
    assert [o["device_id"] for o in last["items"]] == ["ac-0"]
    assert last["next"] is None
    filtered = client.get(
        "/api/v1/work-orders",
        params={"status": "open", "device_id": "ac-3", "fault": "refrigerant_leak"},
        headers=ADMIN,
    ).json()
    assert [o["device_id"] for o in filtered["items"]] == ["ac-3"]
    assert (
        client.get("/api/v1/work-orders", params={"status": "bogus"}, headers=ADMIN).status_code
        == 422
    )
    one = client.get(f"/api/v1/work-orders/{raw['id']}", headers=ADMIN)
    assert one.json() == raw
    assert client.get("/docs").status_code == 200
    assert "/api/v1/work-orders" in client.get("/openapi.json").json()["paths"]


def test_transitions_over_http_and_illegal_ones_get_409(
    stack: tuple[WorkOrderService, httpx.Client],
) -> None:
    service, client = stack
    order_id = service.on_finding(finding()).order_id
    url = f"/api/v1/work-orders/{order_id}/transitions"
    refused = client.post(url, json={"to": "on_site"}, headers=ADMIN)
    assert refused.status_code == 409
    assert "cannot go from 'open' to 'on_site'" in refused.json()["detail"]
    tech = add_technician(client, "Li Wei")
    assigned = client.post(url, json={"to": "assigned"}, headers=ADMIN)  # dispatch picks
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["technician_id"] == tech
    for body in (
        {"to": "accepted"},
        {"to": "scheduled", "scheduled_for": "2026-07-15T09:00:00Z"},
        {"to": "on_site"},
    ):
        assert client.post(url, json=body, headers=ADMIN).status_code == 200
    missing = client.post(url, json={"to": "resolved"}, headers=ADMIN)
    assert missing.status_code == 422
    done = client.post(
        url,
        json={"to": "resolved", "root_cause": "refrigerant_leak", "parts_used": ["R32 1 kg"]},
        headers=ADMIN,
    )
    assert done.json()["status"] == "resolved"
    assert client.post(url, json={"to": "assigned"}, headers=ADMIN).status_code == 409
    trail = client.get(f"/api/v1/work-orders/{order_id}/audit", headers=ADMIN).json()
    assert [e["to"] for e in trail][-1] == "resolved"
    assert trail[-1]["actor"] == "admin:token"


def test_keys_scope_what_callers_see(
    stack: tuple[WorkOrderService, httpx.Client], engine: Engine
) -> None:
    service, client = stack
    add_device(engine, "ac-aurora", brand="Aurora")
    add_device(engine, "wm-breeze", kind="washer", brand="Breeze", model="BRZ-FL8")
    aurora_order = service.on_finding(finding("ac-aurora")).order_id
    breeze_order = service.on_finding(
        finding("wm-breeze", Fault.BEARING_WEAR, kind=Kind.WASHER)
    ).order_id
    tech_a = add_technician(client, "A")
    tech_b = add_technician(client, "B")
    service.transition(aurora_order or "", "assigned", actor="admin", technician_id=tech_a)
    service.transition(breeze_order or "", "assigned", actor="admin", technician_id=tech_b)

    aurora = bearer(make_key(client, name="Aurora FSM", role="brand", brand="Aurora"))
    tech_key = bearer(make_key(client, name="tech B", role="technician", technician_id=tech_b))

    # no key / wrong key: 401
    assert client.get("/api/v1/work-orders").status_code == 401
    assert client.get("/api/v1/work-orders", headers=bearer("hck_nope.nope")).status_code == 401
    assert client.get("/api/v1/work-orders", headers=bearer("wrong")).status_code == 401

    # a brand sees its own orders and devices only; someone else's order is 404
    seen = client.get("/api/v1/work-orders", headers=aurora).json()["items"]
    assert [o["id"] for o in seen] == [aurora_order]
    assert client.get(f"/api/v1/work-orders/{breeze_order}", headers=aurora).status_code == 404
    assert client.get(f"/api/v1/work-orders/{aurora_order}", headers=aurora).status_code == 200
    devices = client.get("/api/v1/devices", headers=aurora).json()["items"]
    assert [d["device_id"] for d in devices] == ["ac-aurora"]
    assert client.get("/api/v1/devices/wm-breeze", headers=aurora).status_code == 404
    assert client.get("/api/v1/devices/ac-aurora", headers=aurora).status_code == 200
    assert client.get("/api/v1/dead-letters", headers=aurora).status_code == 403
    assert client.get("/api/v1/devices", headers=ADMIN).json()["items"][1]["brand"] == "Breeze"
    moved = client.post(
        f"/api/v1/work-orders/{breeze_order}/transitions", json={"to": "cancelled"}, headers=aurora
    )
    assert moved.status_code == 404

    # a technician sees only orders assigned to them
    mine = client.get("/api/v1/work-orders", headers=tech_key).json()["items"]
    assert [o["id"] for o in mine] == [breeze_order]
    assert client.get(f"/api/v1/work-orders/{aurora_order}", headers=tech_key).status_code == 404
    accepted = client.post(
        f"/api/v1/work-orders/{breeze_order}/transitions", json={"to": "accepted"}, headers=tech_key
    )
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert client.get("/api/v1/api-keys", headers=tech_key).status_code == 403
    assert client.get("/api/v1/devices", headers=tech_key).status_code == 403
    # declining hands the order back to dispatch: it leaves the technician's list
    assert (
        client.post(
            f"/api/v1/work-orders/{breeze_order}/transitions",
            json={"to": "assigned"},
            headers=tech_key,
        ).status_code
        == 403
    )
    other = service.on_finding(finding("wm-breeze", Fault.MOTOR_BELT_SLIP, kind=Kind.WASHER))
    service.transition(other.order_id or "", "assigned", actor="admin", technician_id=tech_b)
    declined = client.post(
        f"/api/v1/work-orders/{other.order_id}/transitions", json={"to": "open"}, headers=tech_key
    )
    assert declined.json()["technician_id"] is None
    mine = client.get("/api/v1/work-orders", headers=tech_key).json()["items"]
    assert [o["id"] for o in mine] == [breeze_order]
    not_theirs = client.post(
        f"/api/v1/work-orders/{aurora_order}/transitions", json={"to": "open"}, headers=tech_key
    )
    assert not_theirs.status_code == 404
    assert client.get("/api/v1/devices", headers=bearer("wrong")).status_code == 401

    # keys are stored hashed and can be revoked
    keys = client.get("/api/v1/api-keys", headers=ADMIN).json()
    assert all("token" not in k for k in keys)
    stored = json.dumps(keys)
    assert aurora["Authorization"].split(".", 1)[1] not in stored
    brand_key = next(k for k in keys if k["role"] == "brand")
    assert client.delete(f"/api/v1/api-keys/{brand_key['id']}", headers=ADMIN).status_code == 200
    assert client.get("/api/v1/work-orders", headers=aurora).status_code == 401


def test_sla_breaches_are_flagged_and_listed(engine: Engine) -> None:
    from datetime import UTC, datetime

    now = [datetime(2026, 7, 14, 8, tzinfo=UTC)]
    service, _ = make_service(engine, auto_assign=False)
    service.clock = lambda: now[0]
    high = service.on_finding(finding("ac-1")).order_id
    low = service.on_finding(finding("ac-2", severity="low")).order_id  # type: ignore[arg-type]
    with serve(build_app(service)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/api/v1/sla/breaches", headers=ADMIN).json()["items"] == []
        now[0] += timedelta(hours=25)  # past the 24 h of "high", within the week of "low"
        breaches = client.get("/api/v1/sla/breaches", headers=ADMIN).json()["items"]
        assert [o["id"] for o in breaches] == [high]
        assert breaches[0]["sla_breached"] is True
        assert (
            client.get(f"/api/v1/work-orders/{low}", headers=ADMIN).json()["sla_breached"] is False
        )
    assert service.audit(high or "")[-1]["action"] == "sla_breached"


def test_without_an_admin_token_the_api_is_open_but_keys_still_scope(engine: Engine) -> None:
    service, _ = make_service(engine, auto_assign=False)
    add_device(engine, "ac-1", brand="Aurora")
    add_device(engine, "ac-2", brand="Other")
    service.on_finding(finding("ac-1"))
    service.on_finding(finding("ac-2"))
    with serve(build_app(service, admin_token=None)) as url, httpx.Client(base_url=url) as client:
        assert len(client.get("/api/v1/work-orders").json()["items"]) == 2
        key = client.post(
            "/api/v1/api-keys", json={"name": "a", "role": "brand", "brand": "Aurora"}
        ).json()["token"]
        scoped = client.get("/api/v1/work-orders", headers=bearer(key)).json()["items"]
        assert [o["device_id"] for o in scoped] == ["ac-1"]
        assert client.get("/api/v1/work-orders", headers=bearer("wrong")).status_code == 401
