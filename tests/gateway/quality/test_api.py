"""The quality routes on a real uvicorn server: scorecards, bills, ratings, history, files."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine, update
from sqlalchemy.orm import sessionmaker

from gateway.api.app import ApiState, create_app
from gateway.metrics import GatewayMetrics
from gateway.quality.api import quality_routers
from gateway.quality.tables import HistoryRecordRow
from gateway.workorders.api import ApiContext, device_scope, service_routers
from gateway.workorders.keys import Role, create_key
from tests.gateway.quality.helpers import Rig, add_device, add_provider, finding, make_rig, visit
from tests.gateway.workorders.http_helpers import ADMIN_TOKEN, serve

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def app_for(rig: Rig) -> FastAPI:
    ctx = ApiContext(rig.service, ADMIN_TOKEN)
    state = ApiState(engine=rig.engine, metrics=GatewayMetrics(), recent=lambda _d, _n: [])
    return create_app(
        state,
        routers=[*service_routers(ctx), *quality_routers(ctx, rig.quality)],
        device_scope=device_scope(ctx),
        admin_token=ADMIN_TOKEN,
    )


def key(rig: Rig, role: Role, **who: str) -> dict[str, str]:
    with sessionmaker(rig.engine).begin() as session:
        _, token = create_key(session, role=role, name="test", **who)
    return {"Authorization": f"Bearer {token}"}


def test_quality_routes_answer_and_refuse_bad_input_with_the_reason(
    engine: Engine, tmp_path: Path
) -> None:
    add_device(engine, "ac-1")
    add_device(engine, "ac-2")
    add_provider(engine, "sp_a", [("t1", "Li Wei"), ("t2", "Zhang Min")])
    rig = make_rig(engine)
    first = rig.service.on_finding(finding("ac-1")).order_id or ""
    second = rig.service.on_finding(finding("ac-2")).order_id or ""
    visit(rig, first, "t1", root_cause="condenser_fouling")
    tech2 = key(rig, Role.TECHNICIAN, technician_id="t2")
    aurora = key(rig, Role.BRAND, brand="Aurora")
    other = key(rig, Role.BRAND, brand="Other")
    with serve(app_for(rig)) as base, httpx.Client(base_url=base + "/api/v1") as http:
        # expected cost and warranty are stated on the order
        quality = http.get(f"/work-orders/{first}/quality", headers=aurora).json()
        assert quality["expected_cost"]["high"] == 305.0
        assert quality["warranty"]["decision"] == "warranty_repair"
        assert http.get(f"/work-orders/{first}/quality", headers=other).status_code == 404

        # bills: 409 before the visit, 404 for someone else's or no order, 422 unknown part
        bill = {"labour": 120, "parts": [{"part_number": "AUR-COIL-CLEAN", "quantity": 1}]}
        r = http.post(f"/work-orders/{second}/bill", json=bill, headers=ADMIN)
        assert r.status_code == 409
        assert "after the visit" in r.json()["detail"]
        assert http.post("/work-orders/wo_nope/bill", json=bill, headers=ADMIN).status_code == 404
        assert http.post(f"/work-orders/{first}/bill", json=bill, headers=tech2).status_code == 404
        unknown = {"labour": 10, "parts": [{"part_number": "XX-9", "quantity": 1}]}
        r = http.post(f"/work-orders/{first}/bill", json=unknown, headers=ADMIN)
        assert r.status_code == 422
        assert "unknown part number 'XX-9'" in r.json()["detail"]
        padded = {"labour": 900, "parts": [{"part_number": "AUR-FAN-MOTOR", "quantity": 2}]}
        r = http.post(f"/work-orders/{first}/bill", json=padded, headers=ADMIN)
        assert r.status_code == 201
        assert r.json()["flagged"] is True
        flagged = http.get("/bills", params={"flagged": "true"}, headers=aurora).json()["items"]
        assert [b["order_id"] for b in flagged] == [first]
        assert "above the expected" in flagged[0]["reasons"][0]
        assert http.get("/bills", params={"flagged": "true"}, headers=other).json()["items"] == []

        # ratings: 1..5 only, after the repair
        r = http.post(f"/work-orders/{first}/rating", json={"stars": 7}, headers=aurora)
        assert r.status_code == 422
        assert "less than or equal to 5" in r.text
        assert (
            http.post(
                f"/work-orders/{second}/rating", json={"stars": 4}, headers=aurora
            ).status_code
            == 409
        )
        assert (
            http.post(f"/work-orders/{first}/rating", json={"stars": 4}, headers=aurora).status_code
            == 201
        )

        # scorecards
        card = http.get("/providers/sp_a/scorecard", headers=aurora).json()
        assert card["id"] == "sp_a"
        assert card["visits"] == 1
        assert card["avg_rating"] == 4.0
        assert card["flagged_bill_share"] == 1.0
        assert card["technicians"][0]["id"] == "t1"
        assert http.get("/providers/sp_nope/scorecard", headers=ADMIN).status_code == 404
        assert http.get("/providers/sp_a/scorecard", headers=tech2).status_code == 403
        assert http.get("/scorecards", headers=ADMIN).json()["providers"][0]["id"] == "sp_a"

        # history: verified, then a tampered record is found at its link
        chain = http.get("/devices/ac-1/history", headers=aurora).json()
        assert chain["verification"]["ok"] is True
        events = [r["event"] for r in chain["items"]]
        assert events[:2] == ["opened", "terms_stated"]
        assert events[-2:] == ["billed", "rated"]
        assert http.get("/devices/ac-1/history/verify", headers=other).status_code == 404
        with sessionmaker(engine).begin() as session:
            session.execute(
                update(HistoryRecordRow)
                .where(HistoryRecordRow.device_id == "ac-1", HistoryRecordRow.event == "resolved")
                .values(actor="technician:nobody")
            )
        report = http.get("/devices/ac-1/history/verify", headers=ADMIN).json()
        assert report["ok"] is False
        assert report["broken_at"] == events.index("resolved")

        # a broken price list is refused with its line; the old one stays in force
        prices = tmp_path / "prices.toml"
        prices.write_text(rig.quality.prices.path.read_text().replace("[80.0, 160.0]", "[80.0]"))
        rig.quality.prices.path = prices
        r = http.post("/quality/reload", headers=ADMIN)
        assert r.status_code == 422
        assert f"{prices}:" in r.json()["detail"]["errors"]["prices"]
        assert rig.quality.prices.value.quote("Aurora", "condenser_fouling").high == 305.0
