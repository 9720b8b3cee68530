"""Expected cost ranges and the bill check, on the shipped sample price list."""

from __future__ import annotations

import pytest

from gateway.quality.pricing import PriceList, UnknownPart, load_price_list

PRICES = load_price_list()


def test_a_quote_adds_call_out_labour_and_parts_at_both_ends() -> None:
    quote = PRICES.quote("Aurora", "refrigerant_leak")
    # 50 + 200..450 + R32 1..2 x 120 + kit 0..1 x 60 + drier 0..1 x 45 + rods 0..1 x 20
    assert (quote.low, quote.high) == (370.0, 865.0)
    assert quote.currency == "CNY"
    assert [line["item"] for line in quote.lines][:2] == ["call-out", "labour: refrigerant_leak"]
    assert PRICES.quote("Aurora", "bearing_wear").high is None  # not priced for Aurora
    assert PRICES.quote("Unknown brand", "dirty_filter").currency is None


def test_a_bill_inside_the_range_and_within_tolerance_is_not_flagged() -> None:
    check = PRICES.check_bill(
        "Aurora", "refrigerant_leak", None, labour=450, parts=[("AUR-R32-1KG", 2)]
    )
    assert check.total == 740.0
    assert not check.flagged
    assert check.reasons == []
    # 10 % over the top is tolerated, a little more is not
    top = 865.0
    edge = PRICES.check_bill(
        "Aurora",
        "refrigerant_leak",
        None,
        labour=450 + top * 0.1,
        parts=[("AUR-R32-1KG", 2), ("AUR-LEAK-KIT", 1), ("AUR-DRIER", 1), ("AUR-BRAZE", 1)],
    )
    assert not edge.flagged
    over = PRICES.check_bill(
        "Aurora",
        "refrigerant_leak",
        None,
        labour=450 + top * 0.1 + 1,
        parts=[("AUR-R32-1KG", 2), ("AUR-LEAK-KIT", 1), ("AUR-DRIER", 1), ("AUR-BRAZE", 1)],
    )
    assert over.flagged


def test_an_over_range_bill_says_why() -> None:
    check = PRICES.check_bill(
        "Aurora",
        "dirty_filter",
        None,
        labour=200,
        parts=[("AUR-R32-1KG", 3), ("AUR-FILTER-SET", 2)],
        unit_prices={"AUR-FILTER-SET": 90.0},
    )
    assert check.flagged
    assert check.reasons[0].startswith("total 790.00 CNY is above the expected 90.00-205.00 CNY")
    joined = "\n".join(check.reasons)
    assert "AUR-R32-1KG (refrigerant R32 1 kg) is not used to repair dirty_filter" in joined
    assert "AUR-FILTER-SET: 2 used, at most 1 expected" in joined
    assert "AUR-FILTER-SET charged 90.00 a unit, list price 40.00" in joined
    assert "labour 200.00 is above the 80.00 maximum" in joined


def test_the_confirmed_root_cause_sets_the_range() -> None:
    # diagnosed as a dirty filter, the technician found a leak: a leak repair is fair
    check = PRICES.check_bill(
        "Aurora", "dirty_filter", "refrigerant_leak", labour=300, parts=[("AUR-R32-1KG", 1)]
    )
    assert not check.flagged
    assert check.expected.fault == "refrigerant_leak"


def test_unknown_parts_are_refused_and_the_default_brand_applies() -> None:
    with pytest.raises(UnknownPart, match="unknown part number 'AUR-NOPE'"):
        PRICES.check_bill("Aurora", "dirty_filter", None, labour=10, parts=[("AUR-NOPE", 1)])
    prices = PriceList.model_validate(
        {"brands": {"*": {"currency": "EUR", "faults": {"dirty_filter": {"labour": [10, 20]}}}}}
    )
    assert prices.check_bill("Any", "dirty_filter", None, labour=15, parts=[]).total == 15.0
    with pytest.raises(UnknownPart, match="no price list"):
        PriceList(brands={}).check_bill("X", "dirty_filter", None, labour=1, parts=[])
