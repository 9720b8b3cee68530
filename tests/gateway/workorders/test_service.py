"""The service on a real database: one order per (device, fault), self-fix first, verification."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from edge.contract import Fault, Kind, Notice, Severity, WorkOrder
from gateway.workorders.lifecycle import IllegalTransition
from gateway.workorders.service import InvalidRequest, WorkOrderService
from gateway.workorders.tables import AuditRow, WorkOrderRow
from tests.gateway.workorders.helpers import (
    T0,
    Dev,
    add_device,
    finding,
    make_service,
    recovery,
    sessions,
)


def count_orders(engine: Engine) -> int:
    with sessions(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(WorkOrderRow)) or 0)


def test_a_finding_opens_an_order_with_the_contract_fields(engine: Engine) -> None:
    add_device(engine, "ac-000123", warranty_until=date(2027, 5, 2), refrigerant="R410A")
    service, _ = make_service(engine)
    change = service.on_finding(finding("ac-000123"))
    assert change.action == "opened"
    view = service.get(change.order_id or "")
    order = WorkOrder.model_validate_json(json.dumps(view))  # the contract model accepts it
    assert order.id.startswith("wo_")
    assert order.opened_at == T0
    assert order.warranty == "in_warranty"
    assert order.recommended_parts[0] == "refrigerant R410A 1 kg"
    assert order.evidence[0].observed == 11.8
    assert order.alternatives[0].fault == Fault.COMPRESSOR_WEAR
    assert view["brand"] == "Aurora"
    assert view["due_at"] is not None


def test_warranty_expired_and_unknown(engine: Engine) -> None:
    add_device(engine, "ac-1", warranty_until=date(2025, 1, 1))
    service, _ = make_service(engine)
    expired = service.on_finding(finding("ac-1")).order_id or ""
    unknown = service.on_finding(finding("ac-unregistered")).order_id or ""
    assert service.get(expired)["warranty"] == "expired"
    assert service.get(unknown)["warranty"] == "unknown"


def test_repeated_findings_update_the_one_order_and_severity_only_rises(engine: Engine) -> None:
    service, _ = make_service(engine)
    first = service.on_finding(finding(severity=Severity.MEDIUM))
    second = service.on_finding(
        finding(at=T0 + timedelta(hours=1), severity=Severity.CRITICAL, observed=14.0)
    )
    third = service.on_finding(finding(at=T0 + timedelta(hours=2), severity=Severity.LOW))
    assert second.action == third.action == "updated"
    assert first.order_id == second.order_id == third.order_id
    view = service.get(first.order_id or "")
    assert view["occurrences"] == 3
    assert view["severity"] == "critical"
    assert view["evidence"][0]["observed"] == 11.8  # the latest finding's evidence
    assert view["opened_at"] == "2026-07-14T13:05:00Z"
    assert count_orders(engine) == 1


def test_the_database_itself_refuses_a_second_active_order(engine: Engine) -> None:
    service, _ = make_service(engine)
    order_id = service.on_finding(finding()).order_id
    with sessions(engine).begin() as s:
        row = s.get(WorkOrderRow, order_id)
        assert row is not None
        clone = WorkOrderRow(
            **{c.name: getattr(row, c.name) for c in WorkOrderRow.__table__.columns}
        )
        clone.id = "wo_SECOND"
        s.expunge(row)
        s.add(clone)
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
    # ... but a closed order does not block a new one
    with sessions(engine).begin() as s:
        s.execute(text("UPDATE work_orders SET status = 'cancelled'"))
    assert service.on_finding(finding()).action == "opened"
    assert count_orders(engine) == 2


def test_illegal_transition_is_refused_with_the_reason(engine: Engine) -> None:
    service, _ = make_service(engine, auto_assign=False)
    order_id = service.on_finding(finding()).order_id or ""
    with pytest.raises(IllegalTransition, match="cannot go from 'open' to 'resolved'"):
        service.transition(order_id, "resolved", actor="t", root_cause="refrigerant_leak")
    service.transition(order_id, "cancelled", actor="brand:Aurora")
    with pytest.raises(IllegalTransition, match="final status"):
        service.transition(order_id, "open", actor="t")


def test_full_lifecycle_keeps_an_audit_trail_and_feeds_the_detectors(engine: Engine) -> None:
    add_device(engine, "ac-000123")
    service, detector = make_service(engine, auto_assign=False)
    order_id = service.on_finding(finding()).order_id or ""
    with pytest.raises(InvalidRequest):  # nobody to send
        service.transition(order_id, "assigned", actor="dispatcher")
    service.transition(order_id, "assigned", actor="admin", technician_id=_tech(service))
    service.transition(order_id, "accepted", actor="tech")
    with pytest.raises(InvalidRequest):
        service.transition(order_id, "scheduled", actor="tech")
    service.transition(order_id, "scheduled", actor="tech", scheduled_for=T0)
    service.transition(order_id, "on_site", actor="tech")
    with pytest.raises(InvalidRequest, match="root_cause"):
        service.transition(order_id, "resolved", actor="tech", root_cause="bearing_wear")
    view = service.transition(
        order_id,
        "resolved",
        actor="tech",
        root_cause="refrigerant_leak",
        parts_used=["refrigerant R32 1 kg"],
        notes="brazed leak at the service valve",
    )
    assert view["status"] == "resolved"
    assert view["parts_used"] == ["refrigerant R32 1 kg"]
    trail = service.audit(order_id)
    assert [e["to"] for e in trail] == [
        "open",
        "assigned",
        "accepted",
        "scheduled",
        "on_site",
        "resolved",
    ]
    assert trail[1]["actor"] == "admin"
    assert trail[-1]["at"].endswith("Z")
    assert detector.outcomes[-1].actual == Fault.REFRIGERANT_LEAK
    assert detector.outcomes[-1].predicted == Fault.REFRIGERANT_LEAK


def test_false_alarm_is_fed_back_as_no_fault(engine: Engine) -> None:
    service, detector = make_service(engine, auto_assign=False)
    order_id = service.on_finding(finding()).order_id or ""
    service.transition(order_id, "false_alarm", actor="brand:Aurora", notes="customer says fine")
    assert detector.outcomes[-1].actual is None
    with sessions(engine)() as s:
        assert s.scalar(select(func.count()).select_from(AuditRow)) == 2


def _tech(service: object) -> str:
    from gateway.workorders.ids import utcnow
    from gateway.workorders.tables import TechnicianRow

    sm = service.sessions  # type: ignore[attr-defined]
    with sm.begin() as s:
        s.add(
            TechnicianRow(
                id="tech_1",
                name="Li Wei",
                skills=["ac", "washer"],  # assigned AC and washer orders: both, or 422
                regions=["CN-32"],
                daily_capacity=4,
                rating=4.8,
                active=True,
                created_wall_at=utcnow(),
            )
        )
    return "tech_1"


# ---------------------------------------------------------------- self-fix first


def test_dirty_filter_gets_a_notice_and_no_order_when_the_customer_fixes_it(
    engine: Engine,
) -> None:
    notices: list[Notice] = []
    service, _ = make_service(engine, notices=notices, self_fix_grace=timedelta(days=3))
    dev = Dev("ac-7")
    service.handle(dev, T0, [finding("ac-7", Fault.DIRTY_FILTER, severity=Severity.MEDIUM)])
    assert len(notices) == 1
    assert notices[0].ts == T0
    assert notices[0].action == "clean_filter"
    assert notices[0].fault == Fault.DIRTY_FILTER
    service.handle(dev, T0 + timedelta(days=1), [])
    service.handle(dev, T0 + timedelta(days=2), [recovery("ac-7", Fault.DIRTY_FILTER, T0)])
    service.handle(dev, T0 + timedelta(days=5), [])
    assert count_orders(engine) == 0
    assert service.counts.get("self_fixed") == 1


def test_dirty_filter_opens_an_order_after_the_grace_period_in_device_time(
    engine: Engine,
) -> None:
    notices: list[Notice] = []
    service, _ = make_service(engine, notices=notices, self_fix_grace=timedelta(days=3))
    dev = Dev("ac-8")
    service.handle(dev, T0, [finding("ac-8", Fault.DIRTY_FILTER, severity=Severity.MEDIUM)])
    service.handle(
        dev,
        T0 + timedelta(days=1),
        [finding("ac-8", Fault.DIRTY_FILTER, at=T0 + timedelta(days=1), observed=13.0)],
    )
    service.handle(dev, T0 + timedelta(days=2, hours=23), [])
    assert count_orders(engine) == 0
    assert len(notices) == 1
    late = T0 + timedelta(days=3, minutes=1)
    service.handle(dev, late, [])
    items, _ = service.list_orders()
    assert len(items) == 1
    assert items[0]["fault"] == "dirty_filter"
    assert items[0]["opened_at"] == late.isoformat().replace("+00:00", "Z")
    assert items[0]["evidence"][0]["observed"] == 13.0  # the latest evidence in the grace
    assert items[0]["first_seen_at"] == "2026-07-14T13:05:00Z"


def test_washer_drain_filter_notice_and_critical_findings_skip_it(engine: Engine) -> None:
    notices: list[Notice] = []
    service, _ = make_service(engine, notices=notices)
    washer = finding("wm-1", Fault.DRAIN_PUMP_CLOG, kind=Kind.WASHER, severity=Severity.MEDIUM)
    assert service.on_finding(washer).action == "noticed"
    assert notices[-1].action == "clean_drain_filter"
    urgent = finding("ac-9", Fault.DIRTY_FILTER, severity=Severity.CRITICAL)
    assert service.on_finding(urgent).action == "opened"
    leak = finding("ac-9", Fault.REFRIGERANT_LEAK)
    assert service.on_finding(leak).action == "opened"  # not a self-fix fault
    assert len(notices) == 1


# ---------------------------------------------------------------- fix verification


def _resolved(
    engine: Engine, device_id: str, kind: Kind, fault: Fault, **config: Any
) -> tuple[WorkOrderService, str]:
    service, _ = make_service(engine, auto_assign=False, **config)
    order_id = service.on_finding(finding(device_id, fault, kind=kind)).order_id or ""
    service.transition(order_id, "assigned", actor="admin", technician_id=_tech(service))
    for step in ("accepted", "on_site"):
        if step == "on_site":
            service.transition(order_id, "scheduled", actor="t", scheduled_for=T0)
        service.transition(order_id, step, actor="t")
    service.transition(order_id, "resolved", actor="t", root_cause=str(fault))
    return service, order_id


def test_recovery_then_normal_days_verifies_the_fix(engine: Engine) -> None:
    service, order_id = _resolved(engine, "ac-1", Kind.AC, Fault.REFRIGERANT_LEAK, verify_days=7.0)
    dev = Dev("ac-1")
    start = T0 + timedelta(days=10)
    service.handle(dev, start, [])
    normal = start + timedelta(hours=12)
    service.handle(dev, normal, [recovery("ac-1", Fault.REFRIGERANT_LEAK, normal)])
    for hour in range(12, 7 * 24 + 12, 6):
        service.handle(dev, start + timedelta(hours=hour), [])
    assert service.get(order_id)["status"] == "resolved"  # 7 days after the recovery: not yet
    service.handle(dev, normal + timedelta(days=7), [])
    view = service.get(order_id)
    assert view["status"] == "verified"
    assert view["verified_at"] == (normal + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    assert service.audit(order_id)[-1]["actor"] == "telemetry"


def test_evidence_that_never_recovers_reopens_the_order(engine: Engine) -> None:
    service, order_id = _resolved(
        engine, "ac-5", Kind.AC, Fault.REFRIGERANT_LEAK, recovery_timeout=timedelta(days=4)
    )
    dev = Dev("ac-5")
    start = T0 + timedelta(days=10)
    for hour in range(0, 4 * 24, 6):
        service.handle(dev, start + timedelta(hours=hour), [])
    assert service.get(order_id)["status"] == "resolved"
    service.handle(dev, start + timedelta(days=4), [])
    view = service.get(order_id)
    assert view["status"] == "open"
    assert view["reopened"] == 1
    assert (
        "did not return to normal within 4 days" in service.audit(order_id)[-1]["detail"]["reason"]
    )


def test_the_fault_returning_reopens_the_order_with_new_evidence(engine: Engine) -> None:
    service, order_id = _resolved(engine, "ac-2", Kind.AC, Fault.REFRIGERANT_LEAK)
    dev = Dev("ac-2")
    start = T0 + timedelta(days=10)
    service.handle(dev, start, [])
    back = finding("ac-2", at=start + timedelta(days=2), observed=16.5)
    service.handle(dev, start + timedelta(days=2), [back])
    view = service.get(order_id)
    assert view["status"] == "open"
    assert view["reopened"] == 1
    assert view["evidence"][0]["observed"] == 16.5
    service.handle(dev, start + timedelta(days=30), [])
    assert service.get(order_id)["status"] == "open"  # no verification while open
    assert count_orders(engine) == 1


def test_washer_verification_counts_cycles_after_the_recovery(engine: Engine) -> None:
    service, order_id = _resolved(engine, "wm-3", Kind.WASHER, Fault.BEARING_WEAR, verify_cycles=3)
    dev = Dev("wm-3")
    day = T0 + timedelta(days=5)
    for cycle in range(5):
        begin = day + timedelta(days=cycle)
        for sample in range(0, 3600, 10):  # one hour of samples every 10 s
            service.handle(dev, begin + timedelta(seconds=sample), [])
        if cycle == 0:  # the detectors see normal cycles again
            end = begin + timedelta(hours=1)
            service.handle(dev, end, [recovery("wm-3", Fault.BEARING_WEAR, end)])
        if cycle < 3:
            assert service.get(order_id)["status"] == "resolved"
    assert service.get(order_id)["status"] == "verified"


def test_washer_without_recovery_reopens_after_the_timeout_cycles(engine: Engine) -> None:
    service, order_id = _resolved(
        engine, "wm-4", Kind.WASHER, Fault.BEARING_WEAR, recovery_timeout_cycles=2
    )
    dev = Dev("wm-4")
    for cycle in range(3):
        begin = T0 + timedelta(days=5 + cycle)
        for sample in range(0, 1800, 30):
            service.handle(dev, begin + timedelta(seconds=sample), [])
    assert service.get(order_id)["status"] == "open"


# ---------------------------------------------------------------- dispatch


def test_new_orders_are_dispatched_by_skill_region_load_and_rating(engine: Engine) -> None:
    from gateway.workorders.ids import utcnow
    from gateway.workorders.tables import ProviderRow, TechnicianRow

    service, _ = make_service(engine)
    with service.sessions.begin() as s:
        s.add(
            ProviderRow(
                id="sp_1",
                name="CoolFix",
                skills=["ac"],
                regions=["CN-32"],
                rating=4.5,
                created_wall_at=utcnow(),
            )
        )
        for tech_id, skills, regions, rating in (
            ("t_star", [], [], 4.9),  # inherits the provider's skills and regions
            ("t_ok", ["ac"], ["CN-32"], 4.2),
            ("t_far", ["ac"], ["CN-11"], 5.0),
            ("t_washer", ["washer"], ["CN-32"], 5.0),
        ):
            s.add(
                TechnicianRow(
                    id=tech_id,
                    name=tech_id,
                    provider_id="sp_1",
                    skills=skills,
                    regions=regions,
                    daily_capacity=1,
                    rating=rating,
                    active=True,
                    created_wall_at=utcnow(),
                )
            )
    for n in range(3):
        add_device(engine, f"ac-{n}", region="CN-32")
    first = service.get(service.on_finding(finding("ac-0")).order_id or "")
    second = service.get(service.on_finding(finding("ac-1")).order_id or "")
    third = service.get(service.on_finding(finding("ac-2")).order_id or "")
    assert (first["status"], first["technician_id"]) == ("assigned", "t_star")
    assert second["technician_id"] == "t_ok"  # t_star is at capacity
    assert (third["status"], third["technician_id"]) == ("open", None)  # nobody left
    assert service.audit(first["id"])[-1]["actor"] == "dispatch"


def test_a_notice_the_broker_did_not_take_is_sent_again(engine: Engine) -> None:
    sent: list[Notice] = []
    broker_up = [False]

    def publish(notice: Notice, /) -> None:
        if not broker_up[0]:
            raise ConnectionError("broker away")
        sent.append(notice)

    service, _ = make_service(engine)
    service.publish_notice = publish
    change = service.on_finding(finding("ac-3", Fault.DIRTY_FILTER, severity=Severity.MEDIUM))
    assert change.action == "noticed"  # the finding is handled even with the broker away
    assert service.counts["notice_publish_failed"] == 1
    assert service.resend_notices() == 0
    broker_up[0] = True
    assert service.resend_notices() == 1
    assert service.resend_notices() == 0  # once only
    assert sent[0].ts == T0
    assert sent[0].action == "clean_filter"
