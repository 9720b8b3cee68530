"""Warranty rules: who pays for an order, and why, from the birth message's dates.

The decision is taken at the order's DEVICE time (``opened_at``: when the appliance
itself first showed the fault, so a claim can later be checked against what it
reported), with the device's ``installed_on`` / ``warranty_until`` and the brand's policy
file (``warranty.toml``), checked in this order:

1. statutory return: the fault showed within ``return_days`` of installation;
2. statutory exchange: within ``exchange_days``;
3. repair under the manufacturer's warranty: on or before ``warranty_until``;
4. an extended warranty (brand plan: by model and/or fault, years from installation or
   an end date; it covers parts, or parts and labour);
5. otherwise the customer pays everything.

>>> from datetime import date
>>> policy = WarrantyPolicy.model_validate({"brands": {"*": {}}})
>>> terms = dict(brand="Acme", model="M1", fault="dirty_filter",
...              installed_on=date(2026, 1, 1), warranty_until=date(2027, 1, 1))
>>> d = decide(policy, **terms, at=date(2026, 1, 5))
>>> d.decision, d.customer_pays
('statutory_return', 'nothing')
>>> decide(policy, **terms, at=date(2027, 1, 2)).customer_pays
'everything'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.quality.config_files import load_model
from gateway.quality.pricing import default_file

NOTHING, LABOUR, EVERYTHING, UNDECIDED = "nothing", "labour", "everything", "undecided"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExtendedPlan(_Strict):
    name: str
    #: empty: every model / every fault of the brand
    models: list[str] = []
    faults: list[str] = []
    years: Annotated[float | None, Field(gt=0, le=30)] = None
    until: date | None = None
    covers: Literal["parts", "parts_and_labour"] = "parts_and_labour"

    @model_validator(mode="after")
    def _one_end(self) -> ExtendedPlan:
        if (self.years is None) == (self.until is None):
            raise ValueError("give exactly one of years (from installation) or until (a date)")
        return self

    def ends(self, installed_on: date) -> date:
        if self.until is not None:
            return self.until
        assert self.years is not None
        return installed_on + timedelta(days=round(self.years * 365.25))


class BrandWarranty(_Strict):
    return_days: Annotated[int, Field(ge=0, le=365)] = 7
    exchange_days: Annotated[int, Field(ge=0, le=365)] = 15
    extended: list[ExtendedPlan] = []

    @model_validator(mode="after")
    def _order(self) -> BrandWarranty:
        if self.exchange_days < self.return_days:
            raise ValueError(
                f"exchange_days ({self.exchange_days}) is shorter than return_days "
                f"({self.return_days})"
            )
        return self


class WarrantyPolicy(_Strict):
    brands: dict[str, BrandWarranty]

    def for_brand(self, brand: str | None) -> BrandWarranty:
        if brand and brand in self.brands:
            return self.brands[brand]
        return self.brands.get("*", BrandWarranty())


@dataclass(frozen=True)
class WarrantyDecision:
    #: statutory_return | statutory_exchange | warranty_repair | extended_warranty |
    #: out_of_warranty | unknown
    decision: str
    customer_pays: str
    reason: str
    judged_on: str | None
    plan: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def customer_amount(self, total: float, labour: float) -> float:
        """The customer's share of a bill of ``total`` with ``labour`` (incl. call-out)."""
        if self.customer_pays == NOTHING:
            return 0.0
        if self.customer_pays == LABOUR:
            return round(min(labour, total), 2)
        return round(total, 2)


def decide(
    policy: WarrantyPolicy,
    *,
    brand: str | None,
    model: str | None,
    fault: str,
    installed_on: date | None,
    warranty_until: date | None,
    at: date,
) -> WarrantyDecision:
    """What the customer pays for repairing ``fault`` found on device day ``at``, and why."""
    rules = policy.for_brand(brand)
    day = at.isoformat()
    if installed_on is None:
        if warranty_until is not None and at <= warranty_until:
            return WarrantyDecision(
                "warranty_repair",
                NOTHING,
                f"under the manufacturer's warranty until {warranty_until} "
                "(installation date unknown)",
                day,
            )
        return WarrantyDecision(
            "unknown",
            UNDECIDED,
            "the appliance's birth message has no installation date: warranty to be checked",
            day,
        )
    age = (at - installed_on).days
    if 0 <= age <= rules.return_days:
        return WarrantyDecision(
            "statutory_return",
            NOTHING,
            f"fault showed {age} days after installation on {installed_on}: statutory return "
            f"within {rules.return_days} days (refund or replacement, nothing to pay)",
            day,
        )
    if 0 <= age <= rules.exchange_days:
        return WarrantyDecision(
            "statutory_exchange",
            NOTHING,
            f"fault showed {age} days after installation on {installed_on}: statutory exchange "
            f"within {rules.exchange_days} days (nothing to pay)",
            day,
        )
    if warranty_until is not None and at <= warranty_until:
        return WarrantyDecision(
            "warranty_repair",
            NOTHING,
            f"fault showed on {at}, within the manufacturer's warranty until {warranty_until}: "
            "repair free of charge",
            day,
        )
    for plan in rules.extended:
        if plan.models and (model or "") not in plan.models:
            continue
        if plan.faults and fault not in plan.faults:
            continue
        ends = plan.ends(installed_on)
        if at <= ends:
            pays = NOTHING if plan.covers == "parts_and_labour" else LABOUR
            covered = "parts and labour" if pays == NOTHING else "parts (customer pays labour)"
            return WarrantyDecision(
                "extended_warranty",
                pays,
                f"fault showed on {at}, within the extended warranty {plan.name!r} until {ends}: "
                f"covers {covered}",
                day,
                plan.name,
            )
    expired = f"warranty ended on {warranty_until}" if warranty_until else "no warranty date"
    return WarrantyDecision(
        "out_of_warranty",
        EVERYTHING,
        f"fault showed on {at}, {age} days after installation; {expired} and no extended "
        "warranty applies: the customer pays the repair",
        day,
    )


def load_warranty_policy(path: Path | None = None) -> WarrantyPolicy:
    """The given file or the sample shipped with the package; ConfigFileError if bad."""
    return load_model(path or default_file("warranty.toml"), WarrantyPolicy)
