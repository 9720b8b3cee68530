"""The quality layer on a real work-order service and database: terms, bills, ratings, chain."""

from __future__ import annotations

import itertools
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from edge.contract import Fault
from gateway.quality.service import InvalidInput, WrongState
from gateway.quality.tables import OrderQuoteRow
from gateway.workorders.keys import Role, Scope
from gateway.workorders.service import OrderNotFound
from gateway.workorders.webhooks import enqueue_event  # noqa: F401 - the webhook seam exists
from tests.gateway.quality.helpers import (
    T0,
    add_device,
    add_provider,
    finding,
    make_rig,
    verify_by_telemetry,
    visit,
)


def test_an_order_carries_its_expected_cost_and_warranty_decision(engine: Engine) -> None:
    add_device(engine, "ac-1", installed_on=T0.date() - timedelta(days=3))
    rig = make_rig(engine)
    order_id = rig.service.on_finding(finding("ac-1")).order_id or ""
    terms = rig.quality.order_quality(order_id)
    assert terms["expected_cost"]["currency"] == "CNY"
    # call-out 50 + labour 80..160 + coil cleaner 1..2 x 35 + capacitor 0..1 x 25
    assert (terms["expected_cost"]["low"], terms["expected_cost"]["high"]) == (165.0, 305.0)
    assert terms["warranty"]["decision"] == "statutory_return"
    assert terms["warranty"]["customer_pays"] == "nothing"
    assert "3 days after installation" in terms["warranty"]["reason"]
    with rig.quality.sessions() as session:
        stored = session.get(OrderQuoteRow, order_id)
        assert stored is not None
        assert stored.expected_high == 305.0


def test_every_event_lands_in_the_device_chain_which_verifies(engine: Engine) -> None:
    add_device(engine, "ac-1")
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    rig = make_rig(engine)
    order_id = rig.service.on_finding(finding("ac-1")).order_id or ""
    visit(rig, order_id, "t1", root_cause="condenser_fouling", parts=["AUR-COIL-CLEAN"])
    rig.quality.bill(order_id, labour=100, parts=[("AUR-COIL-CLEAN", 1)])
    rig.quality.rate(order_id, 5)
    verify_by_telemetry(rig, "ac-1", Fault.CONDENSER_FOULING, T0 + timedelta(days=2))
    events = [r["event"] for r in rig.quality.history("ac-1")]
    assert events == [
        "opened",
        "terms_stated",
        "assigned",
        "accepted",
        "scheduled",
        "visited",
        "resolved",
        "billed",
        "rated",
        "verified",
    ]
    records = rig.quality.history("ac-1")
    assert records[0]["payload"]["evidence"][0]["signal"] == "condensing_approach_k"
    assert records[6]["payload"]["detail"]["parts_used"] == ["AUR-COIL-CLEAN"]
    assert [r["position"] for r in records] == list(range(10))
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(records))
    report = rig.quality.verify("ac-1")
    assert report.ok
    assert report.records == 10


def test_bills_within_range_pass_and_over_range_bills_are_flagged_with_the_reason(
    engine: Engine,
) -> None:
    add_device(engine, "ac-1", warranty_until=date(2026, 1, 1))  # expired: customer pays
    add_device(engine, "ac-2", warranty_until=date(2026, 1, 1))
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    rig = make_rig(engine)
    fair = rig.service.on_finding(finding("ac-1")).order_id or ""
    padded = rig.service.on_finding(finding("ac-2")).order_id or ""
    for order_id in (fair, padded):
        visit(rig, order_id, "t1", root_cause="condenser_fouling")
    ok = rig.quality.bill(fair, labour=120, parts=[("AUR-COIL-CLEAN", 1)])
    assert not ok["flagged"]
    assert ok["total"] == 205.0
    assert ok["customer_pays"] == 205.0
    bad = rig.quality.bill(padded, labour=150, parts=[("AUR-COMP-S35", 1), ("AUR-COIL-CLEAN", 1)])
    assert bad["flagged"]
    assert bad["reasons"][0].startswith("total 1685.00 CNY is above the expected")
    assert any("AUR-COMP-S35" in r and "not used to repair" in r for r in bad["reasons"])
    brand = Scope(Role.BRAND, brand="Aurora")
    flagged = rig.quality.bills(brand, flagged=True)
    assert [b["order_id"] for b in flagged] == [padded]
    assert rig.quality.bills(Scope(Role.BRAND, brand="Other"), flagged=True) == []


def test_bad_bills_and_ratings_are_refused_with_the_reason(engine: Engine) -> None:
    add_device(engine, "ac-1")
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    rig = make_rig(engine)
    order_id = rig.service.on_finding(finding("ac-1")).order_id or ""
    with pytest.raises(WrongState, match="a bill comes after the visit"):
        rig.quality.bill(order_id, labour=10, parts=[])
    with pytest.raises(WrongState, match="rated after the repair"):
        rig.quality.rate(order_id, 4)
    visit(rig, order_id, "t1", root_cause="condenser_fouling")
    with pytest.raises(InvalidInput, match="unknown part number 'NOPE-1'"):
        rig.quality.bill(order_id, labour=10, parts=[("NOPE-1", 1)])
    with pytest.raises(InvalidInput, match="1 to 5 stars, got 6"):
        rig.quality.rate(order_id, 6)
    with pytest.raises(OrderNotFound):
        rig.quality.bill("wo_nope", labour=10, parts=[])
    with pytest.raises(OrderNotFound):  # someone else's order looks missing
        rig.quality.rate(order_id, 4, scope=Scope(Role.TECHNICIAN, technician_id="t9"))
    # nothing of the refused inputs reached the history
    assert [r["event"] for r in rig.quality.history("ac-1")][-1] == "resolved"


def test_warranty_share_applies_to_the_bill(engine: Engine) -> None:
    add_device(engine, "ac-1", installed_on=date(2018, 1, 1), warranty_until=date(2021, 1, 1))
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    rig = make_rig(engine)
    order_id = rig.service.on_finding(finding("ac-1", Fault.COMPRESSOR_WEAR)).order_id or ""
    terms = rig.quality.order_quality(order_id)["warranty"]
    assert terms["decision"] == "extended_warranty"
    assert terms["customer_pays"] == "labour"
    visit(rig, order_id, "t1", root_cause="compressor_wear")
    bill = rig.quality.bill(
        order_id, labour=500, parts=[("AUR-COMP-S35", 1), ("AUR-R32-1KG", 1), ("AUR-DRIER", 1)]
    )
    assert bill["total"] == 50 + 500 + 1450 + 120 + 45
    assert bill["customer_pays"] == 550.0  # call-out + labour; the parts are covered


def test_progress_notices_are_queued_with_the_change_and_name_the_technician(
    engine: Engine,
) -> None:
    add_device(engine, "ac-1")
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    rig = make_rig(engine)
    order_id = rig.service.on_finding(finding("ac-1")).order_id or ""
    visit(rig, order_id, "t1", root_cause="condenser_fouling")
    actions = [n.action for n in rig.notices]
    assert actions == [
        "service_order_opened",
        "technician_assigned",
        "technician_accepted",
        "technician_scheduled",
        "technician_on_site",
        "repair_done",
    ]
    scheduled = rig.notices[3]
    assert "Li Wei (ID badge B-t1)" in scheduled.text
    assert getattr(scheduled, "technician_badge", None) == "B-t1"
    assert rig.notices[0].ts == T0  # device time
    with rig.quality.sessions() as session:
        from gateway.quality.tables import NoticeOutboxRow

        statuses = set(session.scalars(select(NoticeOutboxRow.status)))
    assert statuses == {"sent"}


def test_a_flagged_bill_reaches_the_brand_as_a_webhook_event(engine: Engine) -> None:
    from gateway.workorders.tables import WebhookOutboxRow, WebhookSubscriptionRow

    add_device(engine, "ac-1")
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    rig = make_rig(engine)
    with rig.quality.sessions.begin() as session:
        for brand in ("Aurora", "Other"):
            session.add(
                WebhookSubscriptionRow(
                    id=f"wh_{brand}",
                    brand=brand,
                    url="http://127.0.0.1:9/hook",
                    secret="s" * 20,
                    events=["bill.flagged"],
                    active=True,
                    created_wall_at=rig.clock.now,
                )
            )
    order_id = rig.service.on_finding(finding("ac-1")).order_id or ""
    visit(rig, order_id, "t1", root_cause="condenser_fouling")
    rig.quality.bill(order_id, labour=120, parts=[])  # fair: no event
    rig.quality.bill(order_id, labour=2000, parts=[])
    with rig.quality.sessions() as session:
        events = session.scalars(
            select(WebhookOutboxRow).where(WebhookOutboxRow.event_type == "bill.flagged")
        ).all()
    assert [e.subscription_id for e in events] == ["wh_Aurora"]
    assert "above the expected" in events[0].body


def test_files_come_from_the_environment_when_not_given(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[brands.Aurora]\ncurrency = "EUR"\n[brands.Aurora.faults.condenser_fouling]\n'
        "labour = [10.0, 20.0]\n"
    )
    monkeypatch.setenv("HOUSECALL_PRICE_LIST", str(prices))
    add_device(engine, "ac-1")
    rig = make_rig(engine)
    assert rig.quality.prices.path == prices
    order_id = rig.service.on_finding(finding("ac-1")).order_id or ""
    assert rig.quality.order_quality(order_id)["expected_cost"]["high"] == 20.0


def test_two_workers_changing_orders_of_one_device_at_once_keep_one_chain(
    engine: Engine,
) -> None:
    add_device(engine, "ac-1")
    add_provider(engine, "sp_a", [("t1", "Li Wei"), ("t2", "Zhang Min")])
    rigs = [make_rig(engine), make_rig(engine)]  # two gateway workers, own services
    orders = [
        rigs[0].service.on_finding(finding("ac-1", Fault.CONDENSER_FOULING)).order_id or "",
        rigs[1].service.on_finding(finding("ac-1", Fault.SENSOR_FAULT)).order_id or "",
    ]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(i: int) -> None:
        try:
            start.wait()
            for _ in range(3):
                rigs[i].service.transition(
                    orders[i], "assigned", actor="dispatch", technician_id=f"t{i + 1}"
                )
                rigs[i].service.transition(orders[i], "open", actor=f"t{i + 1}")
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    report = rigs[0].quality.verify("ac-1")
    assert report.ok, report
    assert report.records == 2 * 2 + 2 * 6  # opened + terms, then 6 changes per order
