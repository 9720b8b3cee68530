"""A brand reading scorecards sees its own orders' contradictions, never another brand's.

Issue 31: a provider works for several brands; its scorecard's ``contradictions`` list
order ids and root causes. A brand key reading ``/providers/{id}/scorecard`` (or
``/scorecards``, or a technician's card) saw the other brands' orders there. The
rates and counts stay whole (dispatch and every brand judge the provider on all of its
work); the examples, which name orders, are scoped by the caller's key as the rest of
the API is.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine

from gateway.workorders.keys import Role
from tests.gateway.quality.helpers import add_device, add_provider, finding, make_rig
from tests.gateway.quality.http_api import ADMIN, app_for, go_on_site, key, resolve
from tests.gateway.workorders.http_helpers import serve


def contradicted_orders(card: dict[str, Any]) -> set[str]:
    return {c["order_id"] for c in card["contradictions"]}


def test_a_brand_key_sees_only_its_own_orders_in_scorecard_contradictions(
    engine: Engine,
) -> None:
    add_device(engine, "ac-aurora", brand="Aurora")
    add_device(engine, "ac-breeze", brand="Breeze", model="BRZ-12")
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    rig = make_rig(engine)
    orders = {
        brand: rig.service.on_finding(finding(device)).order_id or ""
        for brand, device in (("Aurora", "ac-aurora"), ("Breeze", "ac-breeze"))
    }
    tech = key(rig, Role.TECHNICIAN, technician_id="t1")
    aurora = key(rig, Role.BRAND, brand="Aurora")
    with serve(app_for(rig)) as base, httpx.Client(base_url=base + "/api/v1") as http:
        for order in orders.values():  # a fouled condenser, recorded as a leak: contradicted
            go_on_site(http, rig, order, "t1", tech)
            resolve(http, rig, order, tech, "refrigerant_leak")
        everything = http.get("/providers/sp_a/scorecard", headers=ADMIN).json()
        provider = http.get("/providers/sp_a/scorecard", headers=aurora).json()
        listing = http.get("/scorecards", headers=aurora).json()
        technician = http.get("/technicians/t1/scorecard", headers=aurora).json()
        own = http.get("/technicians/t1/scorecard", headers=tech).json()

    assert contradicted_orders(everything) == set(orders.values())  # admin: all of them
    assert contradicted_orders(own) == set(orders.values())  # the technician's own visits
    mine = {orders["Aurora"]}
    assert contradicted_orders(provider) == mine
    assert contradicted_orders(provider["technicians"][0]) == mine
    assert contradicted_orders(listing["providers"][0]) == mine
    assert contradicted_orders(listing["technicians"][0]) == mine
    assert contradicted_orders(technician) == mine
    assert "Breeze" not in str([provider, listing, technician])
    # the measures themselves stay whole: the provider is judged on all its work
    assert provider["counts"]["root_causes_contradicted"] == 2
    assert provider["score"] == everything["score"]
