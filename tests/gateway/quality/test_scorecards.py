"""Scorecards rank providers of different quality correctly, and dispatch listens to them.

A simulated set of orders on a real database, run through the real work-order service:
- ``sp_good`` answers fast, records the root cause the telemetry shows, fixes first time;
- ``sp_liar`` often records ``refrigerant_leak`` on units whose refrigerant-side evidence
  (superheat, expansion valve) stayed normal: the condenser was fouled;
- ``sp_again`` often needs a second visit: the fault returns after the repair;
- ``sp_slow`` fixes right, but answers and finishes outside the SLA.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from edge.contract import Fault
from gateway.quality.service import QualityService
from gateway.workorders.service import WorkOrderService
from tests.gateway.quality.helpers import (
    FOULING_EVIDENCE,
    LEAK_EVIDENCE,
    T0,
    Rig,
    add_device,
    add_provider,
    finding,
    make_rig,
    verify_by_telemetry,
    visit,
)

ORDERS_EACH = 6


def simulate(rig: Rig) -> None:
    plans = {
        "sp_good": ("g1", {}),
        "sp_liar": ("l1", {}),
        "sp_again": ("a1", {}),
        "sp_slow": ("s1", {"accept_after_h": 9.0, "resolve_after_h": 40.0}),
    }
    for provider, (tech, _) in plans.items():
        add_provider(rig.engine, provider, [(tech, f"Tech {tech}")])
    for i in range(ORDERS_EACH):
        for provider, (tech, pace) in plans.items():
            device = f"ac-{provider}-{i}"
            add_device(rig.engine, device)
            at = T0 + timedelta(hours=i)
            leak = i % 3 == 0  # some orders are real leaks, the rest fouled condensers
            fault = Fault.REFRIGERANT_LEAK if leak else Fault.CONDENSER_FOULING
            evidence = LEAK_EVIDENCE if leak else FOULING_EVIDENCE
            f = finding(device, fault, at=at, evidence=evidence)
            order_id = rig.service.on_finding(f).order_id or ""
            cause = str(fault)
            if provider == "sp_liar" and not leak and i != 1:
                cause = "refrigerant_leak"  # the expensive job, on a fouled condenser
            repaired_at = at + timedelta(days=1)
            visit(
                rig,
                order_id,
                tech,
                root_cause=cause,
                device_id=device,
                device_at=repaired_at,
                second_trip=provider == "sp_again" and i % 2 == 0,
                **pace,  # type: ignore[arg-type]
            )
            if provider == "sp_again" and i % 3 != 2:  # the fault comes back: reopened
                rig.service.on_finding(
                    finding(device, fault, at=repaired_at + timedelta(days=1), evidence=evidence)
                )
                visit(rig, order_id, tech, root_cause=str(fault))
            rig.quality.rate(order_id, 5 if provider in ("sp_good", "sp_slow") else 3)
            verify_by_telemetry(rig, device, fault, repaired_at + timedelta(days=3))


@pytest.mark.slow
def test_scorecards_rank_providers_by_evidence_and_dispatch_favours_the_best(
    engine: Engine,
) -> None:
    rig = make_rig(engine)
    simulate(rig)
    report = rig.quality.scorecards(until=rig.clock.now + timedelta(seconds=1))
    cards = {c.subject: c.as_json() for c in report.providers}
    ranking = [c.subject for c in report.providers]
    assert ranking[0] == "sp_good", ranking
    assert set(ranking[1:]) == {"sp_liar", "sp_again", "sp_slow"}

    good, liar, again, slow = (cards[p] for p in ("sp_good", "sp_liar", "sp_again", "sp_slow"))
    # the liar: root causes the telemetry contradicts
    assert liar["contradicted_root_cause_share"] >= 0.5
    assert good["contradicted_root_cause_share"] == 0.0
    assert again["contradicted_root_cause_share"] == 0.0
    assert liar["contradictions"][0]["root_cause"] == "refrigerant_leak"
    assert "stayed normal" in liar["contradictions"][0]["why"]
    # the one that comes twice: first-time fix down, repeat visits up
    assert good["first_time_fix"] == 1.0
    assert again["first_time_fix"] < 0.5
    assert again["repeat_visit_rate"] > 0.5
    assert good["repeat_visit_rate"] == 0.0
    # the slow one: SLA
    assert good["response_sla"] == 1.0
    assert good["completion_sla"] == 1.0
    assert slow["response_sla"] == 0.0
    assert slow["completion_sla"] == 0.0
    # lead time: repaired one device day into a ten-day warning
    assert good["avg_lead_time_consumed"] == pytest.approx(0.1, abs=0.01)
    assert good["avg_rating"] == 5.0
    assert liar["avg_rating"] == 3.0
    # technicians get cards too
    assert {c.subject for c in report.technicians} == {"g1", "l1", "a1", "s1"}

    # dispatch: new orders go to the better providers first
    orders = dispatch_new_orders(rig, count=16)
    assert orders["g1"] > orders["l1"]
    assert orders["g1"] > orders["a1"]


def dispatch_new_orders(rig: Rig, count: int, scorecard: Path | None = None) -> Counter[str]:
    from dataclasses import replace

    service = WorkOrderService(
        rig.service.sessions,
        config=replace(rig.service.config, auto_assign=True),
        clock=rig.clock,
    )
    QualityService(service, scorecard=scorecard).attach()
    assigned: Counter[str] = Counter()
    for i in range(count):
        device = f"ac-new-{i}"
        add_device(rig.engine, device)
        order_id = service.on_finding(finding(device, at=T0 + timedelta(days=30))).order_id or ""
        tech = service.get(order_id)["technician_id"]
        assigned[tech] += 1
    return assigned


@pytest.mark.slow
def test_a_brand_that_turns_the_weight_off_gets_plain_load_balancing(
    engine: Engine, tmp_path: Path
) -> None:
    rig = make_rig(engine)
    simulate(rig)
    policy = tmp_path / "scorecard.toml"
    policy.write_text("[dispatch]\ndefault = 0.0\n")
    orders = dispatch_new_orders(rig, count=16, scorecard=policy)
    assert max(orders.values()) - min(orders.values()) <= 1, orders  # even spread
