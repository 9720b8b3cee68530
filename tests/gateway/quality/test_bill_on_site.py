"""A bill recorded while the technician is on site reaches the scorecard.

Issue 31: the API accepts a bill from ``on_site`` on (the work is done before the order
is resolved, often with the customer watching), and the price list flags it, but the
scorecard only attached bills to a visit that already existed, i.e. after ``resolved``:
overcharging on site escaped the provider's ``flagged_bill_share``.
"""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from gateway.workorders.keys import Role
from tests.gateway.quality.helpers import add_device, add_provider, finding, make_rig
from tests.gateway.quality.http_api import ADMIN, app_for, go_on_site, key, resolve
from tests.gateway.workorders.http_helpers import serve

PADDED = {"labour": 900, "parts": [{"part_number": "AUR-FAN-MOTOR", "quantity": 2}]}


def test_a_flagged_bill_recorded_on_site_counts_on_the_scorecard(engine: Engine) -> None:
    add_device(engine, "ac-1")
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    rig = make_rig(engine)
    order = rig.service.on_finding(finding("ac-1")).order_id
    assert order is not None
    tech = key(rig, Role.TECHNICIAN, technician_id="t1")
    with serve(app_for(rig)) as base, httpx.Client(base_url=base + "/api/v1") as http:
        go_on_site(http, rig, order, "t1", tech)
        r = http.post(f"/work-orders/{order}/bill", json=PADDED, headers=tech)
        assert r.status_code == 201, r.text
        assert r.json()["flagged"] is True
        resolve(http, rig, order, tech, "condenser_fouling")
        card = http.get("/providers/sp_a/scorecard", headers=ADMIN).json()
    assert card["visits"] == 1
    assert card["counts"]["bills"] == 1
    assert card["counts"]["bills_flagged"] == 1
    assert card["flagged_bill_share"] == 1.0
