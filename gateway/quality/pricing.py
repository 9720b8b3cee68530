"""Transparent pricing: each brand's price list, the expected cost of a diagnosis, bill checks.

A price list (TOML, see ``prices.toml``) gives per brand a call-out fee, parts by part
number, and per fault the labour range and the parts (with quantity ranges) that repair
it. An order's expected cost is ``call_out + labour + parts`` at the low and high ends.
A technician's final bill is priced from the same list (unknown part numbers are
refused), and it is FLAGGED for the brand when its total is above the expected range
for the confirmed root cause (or the diagnosis) by more than the brand's tolerance; the
reasons name what drove it: labour above range, parts the fault does not need,
quantities above range, unit prices above the list.

>>> prices = PriceList.model_validate({"brands": {"Acme": {
...     "currency": "EUR", "call_out": 40,
...     "parts": {"F1": {"name": "filter", "price": 10}},
...     "faults": {"dirty_filter": {"labour": [20, 30], "parts": {"F1": [1, 2]}}}}}})
>>> quote = prices.quote("Acme", "dirty_filter")
>>> (quote.low, quote.high)
(70.0, 90.0)
>>> check = prices.check_bill("Acme", "dirty_filter", None, labour=80, parts=[("F1", 1)])
>>> check.flagged, check.total, check.reasons[0]
(True, 130.0, 'total 130.00 EUR is above the expected 70.00-90.00 EUR for dirty_filter')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.quality.config_files import LocatedError, load_model

DEFAULT_BRAND = "*"
NonNegative = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Part(_Strict):
    name: str
    price: NonNegative


class FaultPrice(_Strict):
    labour: tuple[NonNegative, NonNegative]
    #: part number -> (min quantity, max quantity)
    parts: dict[str, tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]] = {}

    @field_validator("labour")
    @classmethod
    def _labour_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] > value[1]:
            raise ValueError(f"labour min {value[0]:g} is above max {value[1]:g}")
        return value

    @field_validator("parts")
    @classmethod
    def _quantity_ranges(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for number, (low, high) in value.items():
            if low > high:
                raise ValueError(f"part {number}: min quantity {low} is above max {high}")
        return value


class BrandPrices(_Strict):
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    call_out: NonNegative = 0.0
    #: A bill may exceed the expected high end by this share before it is flagged.
    tolerance: Annotated[float, Field(ge=0, le=1)] = 0.10
    parts: dict[str, Part] = {}
    faults: dict[str, FaultPrice] = {}


class PriceList(_Strict):
    brands: dict[str, BrandPrices]

    def for_brand(self, brand: str | None) -> tuple[str, BrandPrices] | None:
        if brand and brand in self.brands:
            return brand, self.brands[brand]
        if DEFAULT_BRAND in self.brands:
            return DEFAULT_BRAND, self.brands[DEFAULT_BRAND]
        return None

    def quote(self, brand: str | None, fault: str) -> Quote:
        """The expected cost range of repairing ``fault`` for ``brand`` (empty if unpriced)."""
        found = self.for_brand(brand)
        if found is None or fault not in found[1].faults:
            return Quote(fault=fault, currency=found[1].currency if found else None)
        name, prices = found
        spec = prices.faults[fault]
        low = prices.call_out + spec.labour[0]
        high = prices.call_out + spec.labour[1]
        lines = [{"item": "call-out", "low": prices.call_out, "high": prices.call_out}]
        lines.append({"item": f"labour: {fault}", "low": spec.labour[0], "high": spec.labour[1]})
        for number, (qmin, qmax) in spec.parts.items():
            part = prices.parts[number]
            low += part.price * qmin
            high += part.price * qmax
            lines.append(
                {
                    "item": f"{number} {part.name}",
                    "part_number": number,
                    "quantity": [qmin, qmax],
                    "unit_price": part.price,
                    "low": part.price * qmin,
                    "high": part.price * qmax,
                }
            )
        return Quote(fault, prices.currency, round(low, 2), round(high, 2), name, lines)

    def check_bill(
        self,
        brand: str | None,
        diagnosis: str,
        root_cause: str | None,
        *,
        labour: float,
        parts: Sequence[tuple[str, int]],
        unit_prices: dict[str, float] | None = None,
    ) -> BillCheck:
        """Price a bill and compare it with the expected range; raise UnknownPart."""
        found = self.for_brand(brand)
        if found is None:
            raise UnknownPart(f"no price list for brand {brand!r}")
        _, prices = found
        reasons: list[str] = []
        lines: list[dict[str, Any]] = [{"item": "call-out", "amount": prices.call_out}]
        lines.append({"item": "labour", "amount": round(labour, 2)})
        total = prices.call_out + labour
        fault = root_cause or diagnosis
        spec = prices.faults.get(fault)
        for number, quantity in parts:
            part = prices.parts.get(number)
            if part is None:
                raise UnknownPart(f"unknown part number {number!r} in the price list of {brand}")
            charged = (unit_prices or {}).get(number, part.price)
            if charged > part.price * (1 + prices.tolerance):
                reasons.append(
                    f"part {number} charged {charged:.2f} a unit, list price {part.price:.2f}"
                )
            total += charged * quantity
            lines.append(
                {
                    "item": f"{number} {part.name}",
                    "part_number": number,
                    "quantity": quantity,
                    "unit_price": charged,
                    "amount": round(charged * quantity, 2),
                }
            )
            if spec is not None:
                allowed = spec.parts.get(number)
                if allowed is None:
                    reasons.append(f"part {number} ({part.name}) is not used to repair {fault}")
                elif quantity > allowed[1]:
                    reasons.append(
                        f"part {number}: {quantity} used, at most {allowed[1]} expected for {fault}"
                    )
        quote = self.quote(brand, fault)
        total = round(total, 2)
        flagged = False
        if spec is None:
            reasons.insert(0, f"no price for {fault} in the list: cannot be checked")
        else:
            if labour > spec.labour[1]:
                reasons.append(
                    f"labour {labour:.2f} is above the {spec.labour[1]:.2f} maximum for {fault}"
                )
            assert quote.high is not None
            if total > quote.high * (1 + prices.tolerance):
                flagged = True
                cur = prices.currency
                reasons.insert(
                    0,
                    f"total {total:.2f} {cur} is above the expected "
                    f"{quote.low:.2f}-{quote.high:.2f} {cur} for {fault}",
                )
        return BillCheck(
            total=total,
            currency=prices.currency,
            flagged=flagged,
            reasons=reasons,
            expected=quote,
            labour=round(labour + prices.call_out, 2),
            lines=lines,
        )


class UnknownPart(LookupError):
    """A bill names a part number the brand's price list does not have: HTTP 422."""


@dataclass(frozen=True)
class Quote:
    fault: str
    currency: str | None = None
    low: float | None = None
    high: float | None = None
    price_list: str | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "currency": self.currency,
            "low": self.low,
            "high": self.high,
            "price_list": self.price_list,
            "lines": self.lines,
        }


@dataclass(frozen=True)
class BillCheck:
    total: float
    currency: str
    flagged: bool
    reasons: list[str]
    expected: Quote
    #: call-out + labour: what "labour only" warranty cover leaves the customer to pay
    labour: float
    lines: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "currency": self.currency,
            "flagged": self.flagged,
            "reasons": self.reasons,
            "expected": self.expected.as_json(),
            "lines": self.lines,
        }


def _cross_check(prices: PriceList) -> None:
    for brand, spec in prices.brands.items():
        for fault, price in spec.faults.items():
            for number in price.parts:
                if number not in spec.parts:
                    raise LocatedError(
                        ("brands", brand, "faults", fault, "parts", number),
                        f"part {number!r} is not in [brands.{brand}.parts]",
                    )


def load_price_list(path: Path | None = None) -> PriceList:
    """The given file or the sample shipped with the package; ConfigFileError if bad."""
    return load_model(path or default_file("prices.toml"), PriceList, _cross_check)


def default_file(name: str) -> Path:
    return Path(str(resources.files(__package__).joinpath(name)))
