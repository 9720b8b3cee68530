"""Warranty decisions for faults inside and outside each period of the policy."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from gateway.quality.warranty import (
    EVERYTHING,
    LABOUR,
    NOTHING,
    UNDECIDED,
    WarrantyDecision,
    WarrantyPolicy,
    decide,
    load_warranty_policy,
)

INSTALLED = date(2025, 3, 1)
WARRANTY_UNTIL = date(2028, 3, 1)
POLICY = load_warranty_policy()


def on(
    day: date, *, fault: str = "condenser_fouling", model: str = "AUR-S35-INV", **kw: Any
) -> WarrantyDecision:
    terms: dict[str, Any] = {
        "brand": "Aurora",
        "model": model,
        "fault": fault,
        "installed_on": INSTALLED,
        "warranty_until": WARRANTY_UNTIL,
    }
    terms.update(kw)
    return decide(POLICY, **terms, at=day)


@pytest.mark.parametrize(
    ("days", "decision", "pays"),
    [
        (0, "statutory_return", NOTHING),
        (7, "statutory_return", NOTHING),  # the last day of the return period
        (8, "statutory_exchange", NOTHING),
        (15, "statutory_exchange", NOTHING),  # the last day of the exchange period
        (16, "warranty_repair", NOTHING),
        ((WARRANTY_UNTIL - INSTALLED).days, "warranty_repair", NOTHING),  # its last day
        ((WARRANTY_UNTIL - INSTALLED).days + 1, "out_of_warranty", EVERYTHING),
    ],
)
def test_each_period_and_its_edges(days: int, decision: str, pays: str) -> None:
    d = on(INSTALLED + timedelta(days=days))
    assert (d.decision, d.customer_pays) == (decision, pays)
    assert d.judged_on == (INSTALLED + timedelta(days=days)).isoformat()
    assert d.reason  # always says why


def test_the_compressor_plan_covers_parts_for_ten_years_only() -> None:
    inside = on(date(2034, 2, 1), fault="compressor_wear")
    assert inside.decision == "extended_warranty"
    assert inside.customer_pays == LABOUR
    assert inside.plan == "compressor 10 years"
    assert "customer pays labour" in inside.reason
    assert on(date(2035, 3, 5), fault="compressor_wear").customer_pays == EVERYTHING
    # the plan is for compressors: a fouled condenser after the warranty is paid for
    assert on(date(2030, 1, 1)).decision == "out_of_warranty"


def test_a_model_plan_covers_parts_and_labour_for_that_model_only() -> None:
    covered = on(date(2029, 6, 1), model="AUR-S50-INV")
    assert covered.decision == "extended_warranty"
    assert covered.customer_pays == NOTHING
    assert on(date(2029, 6, 1), model="AUR-S35-INV").customer_pays == EVERYTHING
    assert on(date(2030, 3, 2), model="AUR-S50-INV").customer_pays == EVERYTHING  # 5 years on


def test_missing_dates_are_said_plainly() -> None:
    unknown = on(date(2026, 1, 1), installed_on=None, warranty_until=None)
    assert unknown.decision == "unknown"
    assert unknown.customer_pays == UNDECIDED
    assert "no installation date" in unknown.reason
    only_end = on(date(2026, 1, 1), installed_on=None)
    assert only_end.decision == "warranty_repair"


def test_brands_without_a_policy_get_the_default_and_bills_split_by_cover() -> None:
    policy = WarrantyPolicy.model_validate({"brands": {"*": {"return_days": 3}}})
    d = decide(
        policy,
        brand="Nobody",
        model=None,
        fault="bearing_wear",
        installed_on=INSTALLED,
        warranty_until=None,
        at=INSTALLED + timedelta(days=4),
    )
    assert d.decision == "statutory_exchange"
    assert d.customer_amount(300.0, 120.0) == 0.0
    assert on(date(2034, 2, 1), fault="compressor_wear").customer_amount(2000.0, 550.0) == 550.0
    assert on(date(2031, 1, 1)).customer_amount(300.0, 120.0) == 300.0
