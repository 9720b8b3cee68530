"""Provider and technician scorecards, read from the devices' service histories.

A VISIT is one resolution of an order by a technician. It is attributed to the period in
which it was resolved and measured with what the history chain recorded around it:

- SLA adherence: accepted within the response time for the order's severity, resolved
  within the SLA deadline (both on the wall clock, from when the order was (re)opened);
- first-time fix: the order's first resolution was followed by ``verified`` (telemetry
  normal again) without a reopen; orders still waiting for verification are left out;
- repeat visits: a second ``on_site`` in the same episode, or a reopen after the repair;
- lead time consumed: the share of the detectors' warning (opened -> predicted failure,
  device time) used up when the repair was done (device time of the device's latest
  message then); above 1 means the repair came after the predicted failure;
- customer rating (1-5) and bills flagged over the expected range (a bill recorded on
  site, before the resolution, counts for the visit it was made in);
- root cause contradicted by telemetry (:mod:`gateway.quality.evidence_rules`), judged
  on the order's evidence before the visit and the device's evidence after it.

The overall ``score`` (0..1) weighs these (weights in ``scorecard.toml``); each rate is
shrunk toward 0.5 by ``shrinkage`` pseudo-visits so three lucky visits do not top a
provider with a hundred good ones. Dispatch adds ``weight(brand) * (score - 0.5)`` to a
technician's standing: better providers get more orders, as agreed with each brand.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.quality.config_files import load_model
from gateway.quality.evidence_rules import CONTRADICTED, UNDETERMINED, judge
from gateway.quality.pricing import default_file
from gateway.quality.tables import HistoryRecordRow
from gateway.workorders.dispatch import Candidate
from gateway.workorders.ids import aware, maybe_aware
from gateway.workorders.sla import DEFAULT_SLA_HOURS
from gateway.workorders.tables import ProviderRow, TechnicianRow, WorkOrderRow

Weight = Annotated[float, Field(ge=0)]
#: which contradiction examples a reader may see (by their order's brand, technician...)
Shows = Callable[[dict[str, Any]], bool]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weights(_Strict):
    first_time_fix: Weight = 0.25
    root_cause_trust: Weight = 0.25
    completion_sla: Weight = 0.15
    response_sla: Weight = 0.10
    no_repeat: Weight = 0.10
    rating: Weight = 0.10
    fair_bills: Weight = 0.05


class DispatchWeights(_Strict):
    default: Annotated[float, Field(ge=0, le=10)] = 0.5
    brands: dict[str, Annotated[float, Field(ge=0, le=10)]] = {}

    def weight(self, brand: str | None) -> float:
        return self.brands.get(brand or "", self.default)


class ScorecardPolicy(_Strict):
    weights: Weights = Weights()
    shrinkage: Annotated[float, Field(ge=0, le=100)] = 3.0
    #: hours to accept an order, by severity
    response_hours: dict[str, Annotated[float, Field(gt=0)]] = {
        "critical": 2.0,
        "high": 4.0,
        "medium": 24.0,
        "low": 48.0,
    }
    completion_hours: dict[str, Annotated[float, Field(gt=0)]] = {
        str(k): v for k, v in DEFAULT_SLA_HOURS.items()
    }
    #: device days after a repair whose evidence still counts as "after the visit"
    after_days: Annotated[float, Field(ge=0)] = 14.0
    #: the period dispatch looks back over (wall days)
    dispatch_window_days: Annotated[float, Field(gt=0)] = 90.0
    dispatch: DispatchWeights = DispatchWeights()


def load_scorecard_policy(path: Path | None = None) -> ScorecardPolicy:
    return load_model(path or default_file("scorecard.toml"), ScorecardPolicy)


@dataclass
class Visit:
    order_id: str
    device_id: str
    kind: str
    fault: str
    technician_id: str | None
    provider_id: str | None
    severity: str
    started_at: datetime
    resolved_at: datetime
    accepted_at: datetime | None
    on_site: int
    root_cause: str | None
    lead_consumed: float | None
    before: list[list[dict[str, Any]]]
    resolved_device_at: datetime | None
    outcome: str | None = None  # verified | reopened | None (pending)
    #: the order's first resolution (later ones are repeat visits, not first-time fixes)
    first: bool = True
    rating: int | None = None
    bill_flagged: bool | None = None
    verdict: str = UNDETERMINED
    verdict_reason: str = ""
    #: the order's brand: whose tenancy the visit's details (order id, root cause) are in
    brand: str | None = None


@dataclass
class Scorecard:
    subject: str  # provider or technician id
    name: str | None
    kind: str  # provider | technician
    visits: int = 0
    response_met: int = 0
    completion_met: int = 0
    verified_first_time: int = 0
    verification_known: int = 0
    repeat_visits: int = 0
    lead_consumed: list[float] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)
    bills: int = 0
    bills_flagged: int = 0
    contradicted: int = 0
    judged: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    score: float = 0.5
    #: a technician's provider
    provider_id: str | None = None

    def rates(self) -> dict[str, float | None]:
        def rate(num: int, den: int) -> float | None:
            return None if den == 0 else round(num / den, 4)

        return {
            "response_sla": rate(self.response_met, self.visits),
            "completion_sla": rate(self.completion_met, self.visits),
            "first_time_fix": rate(self.verified_first_time, self.verification_known),
            "repeat_visit_rate": rate(self.repeat_visits, self.visits),
            "contradicted_root_cause_share": rate(self.contradicted, self.judged),
            "flagged_bill_share": rate(self.bills_flagged, self.bills),
            "avg_lead_time_consumed": (
                round(sum(self.lead_consumed) / len(self.lead_consumed), 4)
                if self.lead_consumed
                else None
            ),
            "avg_rating": (
                round(sum(self.ratings) / len(self.ratings), 3) if self.ratings else None
            ),
        }

    def as_json(self, shows: Shows | None = None) -> dict[str, Any]:
        """The card; ``shows`` picks the contradictions the reader may see (None: all).

        Contradictions name orders and root causes, which belong to the order's brand;
        the rates and counts are the subject's whole work and are shown to everyone.
        """
        examples = [e for e in self.examples if shows is None or shows(e)]
        return {
            "id": self.subject,
            "name": self.name,
            "type": self.kind,
            "provider_id": self.provider_id,
            "score": round(self.score, 4),
            "visits": self.visits,
            **self.rates(),
            "counts": {
                "response_met": self.response_met,
                "completion_met": self.completion_met,
                "verified_first_time": self.verified_first_time,
                "verification_known": self.verification_known,
                "repeat_visits": self.repeat_visits,
                "ratings": len(self.ratings),
                "bills": self.bills,
                "bills_flagged": self.bills_flagged,
                "root_causes_judged": self.judged,
                "root_causes_contradicted": self.contradicted,
            },
            "contradictions": examples[:10],
        }


def _shrunk(num: float, den: float, k: float) -> float:
    return (num + 0.5 * k) / (den + k)


def overall(card: Scorecard, policy: ScorecardPolicy) -> float:
    w, k = policy.weights, policy.shrinkage
    avg_rating = (sum(card.ratings) - len(card.ratings)) / 4.0  # 1..5 -> 0..1, summed
    parts = [
        (w.first_time_fix, _shrunk(card.verified_first_time, card.verification_known, k)),
        (w.root_cause_trust, _shrunk(card.judged - card.contradicted, card.judged, k)),
        (w.completion_sla, _shrunk(card.completion_met, card.visits, k)),
        (w.response_sla, _shrunk(card.response_met, card.visits, k)),
        (w.no_repeat, _shrunk(max(0, card.visits - card.repeat_visits), card.visits, k)),
        (w.rating, _shrunk(avg_rating, len(card.ratings), k)),
        (w.fair_bills, _shrunk(card.bills - card.bills_flagged, card.bills, k)),
    ]
    total = sum(weight for weight, _ in parts)
    return sum(weight * value for weight, value in parts) / total if total else 0.5


# ---------------------------------------------------------------- visits from the history


def _dt(value: Any) -> datetime | None:
    if not value:
        return None
    return aware(datetime.fromisoformat(str(value)))  # 3.11 reads a trailing Z


def visits_from_history(
    rows: Sequence[HistoryRecordRow],
    device_rows: dict[str, list[HistoryRecordRow]],
    policy: ScorecardPolicy,
) -> list[Visit]:
    """Rebuild every visit from order records (in chain order) and judge its root cause."""
    by_order: dict[str, list[HistoryRecordRow]] = defaultdict(list)
    for row in rows:
        if row.order_id:
            by_order[row.order_id].append(row)
    out: list[Visit] = []
    for order_id, records in by_order.items():
        records.sort(key=lambda r: r.position)
        out.extend(_order_visits(order_id, records, policy))
    after = timedelta(days=policy.after_days)
    for visit in out:
        if not visit.root_cause:
            continue
        later = [
            list(r.payload.get("evidence") or [])
            for r in device_rows.get(visit.device_id, [])
            if r.event in ("opened", "reopened", "severity_raised")
            and visit.resolved_device_at is not None
            and (r_at := maybe_aware(r.device_at)) is not None
            and visit.resolved_device_at < r_at <= visit.resolved_device_at + after
        ]
        judgement = judge(visit.kind, visit.root_cause, [*visit.before, *later])
        visit.verdict, visit.verdict_reason = judgement.verdict, judgement.reason
    return out


def _order_visits(
    order_id: str, records: list[HistoryRecordRow], policy: ScorecardPolicy
) -> list[Visit]:
    visits: list[Visit] = []
    start: datetime | None = None
    device_start: datetime | None = None
    predicted: datetime | None = None
    accepted: datetime | None = None
    on_site = 0
    technician: str | None = None
    provider: str | None = None
    severity = "medium"
    evidence: list[list[dict[str, Any]]] = []
    last: Visit | None = None
    #: a bill recorded before the visit's resolution (on site: the API allows it) waits
    #: for the visit it belongs to, instead of being lost or given to an earlier visit
    pending_bill: bool | None = None
    in_visit = False  # between (re)opening and resolution
    for r in records:
        p = r.payload or {}
        at = aware(r.recorded_wall_at)
        severity = str(p.get("severity") or severity)
        if r.event in ("opened", "reopened"):
            if r.event == "reopened" and last is not None and last.outcome is None:
                last.outcome = "reopened"
            start, accepted, on_site = at, None, 0
            in_visit, pending_bill = True, None
            device_start = _dt(p.get("opened_at")) if r.event == "opened" else None
            device_start = device_start or maybe_aware(r.device_at)
            predicted = _dt(p.get("predicted_failure_at"))
            evidence = [list(p.get("evidence") or [])]
        elif r.event == "severity_raised":
            evidence.append(list(p.get("evidence") or []))
        elif r.event == "assigned":
            technician = p.get("technician_id") or technician
            provider = p.get("provider_id") or provider
        elif r.event == "accepted" and accepted is None:
            accepted = at
        elif r.event == "visited":
            on_site += 1
        elif r.event == "resolved" and start is not None:
            technician = p.get("technician_id") or technician
            provider = p.get("provider_id") or provider
            device_at = maybe_aware(r.device_at)
            consumed = None
            if device_start and predicted and device_at and predicted > device_start:
                consumed = max(0.0, (device_at - device_start) / (predicted - device_start))
            evidence.append(list(p.get("evidence") or []))
            last = Visit(
                order_id=order_id,
                device_id=r.device_id,
                kind=str(p.get("kind") or ""),
                fault=str(p.get("fault") or ""),
                technician_id=technician,
                provider_id=provider,
                severity=severity,
                started_at=start,
                resolved_at=at,
                accepted_at=accepted,
                on_site=on_site,
                root_cause=(p.get("detail") or {}).get("root_cause"),
                lead_consumed=consumed,
                before=[list(e) for e in evidence],
                resolved_device_at=device_at,
                first=not visits,
                bill_flagged=pending_bill,
            )
            visits.append(last)
            in_visit, pending_bill = False, None
        elif r.event == "verified" and last is not None and last.outcome is None:
            last.outcome = "verified"
        elif r.event == "rated" and last is not None:
            last.rating = int(p.get("stars", 0)) or None
        elif r.event == "billed" and in_visit:
            pending_bill = bool(p.get("flagged"))
        elif r.event == "billed" and last is not None:
            last.bill_flagged = bool(p.get("flagged"))
    return visits


def tally(
    visits: Iterable[Visit],
    key: Callable[[Visit], str | None],
    names: dict[str, str],
    kind: str,
    policy: ScorecardPolicy,
) -> dict[str, Scorecard]:
    cards: dict[str, Scorecard] = {}
    for v in visits:
        subject = key(v)
        if subject is None:
            continue
        card = cards.get(subject) or Scorecard(subject, names.get(subject), kind)
        cards[subject] = card
        card.visits += 1
        respond = timedelta(hours=policy.response_hours.get(v.severity, 24.0))
        complete = timedelta(hours=policy.completion_hours.get(v.severity, 72.0))
        if v.accepted_at is not None and v.accepted_at <= v.started_at + respond:
            card.response_met += 1
        if v.resolved_at <= v.started_at + complete:
            card.completion_met += 1
        if v.outcome is not None and v.first:
            card.verification_known += 1
            card.verified_first_time += v.outcome == "verified"
        card.repeat_visits += max(0, v.on_site - 1) + (v.outcome == "reopened")
        if v.lead_consumed is not None:
            card.lead_consumed.append(v.lead_consumed)
        if v.rating is not None:
            card.ratings.append(v.rating)
        if v.bill_flagged is not None:
            card.bills += 1
            card.bills_flagged += v.bill_flagged
        if v.verdict != UNDETERMINED:
            card.judged += 1
            if v.verdict == CONTRADICTED:
                card.contradicted += 1
                card.examples.append(
                    {
                        "order_id": v.order_id,
                        "brand": v.brand,
                        "technician_id": v.technician_id,
                        "root_cause": v.root_cause,
                        "why": v.verdict_reason,
                    }
                )
    for card in cards.values():
        card.score = overall(card, policy)
    return cards


@dataclass(frozen=True)
class ScorecardReport:
    since: datetime
    until: datetime
    providers: list[Scorecard]
    technicians: list[Scorecard]

    def as_json(self, shows: Shows | None = None) -> dict[str, Any]:
        """Every card; ``shows``: the contradictions the reader may see (None: all)."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "providers": [c.as_json(shows) for c in self.providers],
            "technicians": [c.as_json(shows) for c in self.technicians],
        }


def build_scorecards(
    session: Session, policy: ScorecardPolicy, since: datetime, until: datetime
) -> ScorecardReport:
    """Every provider's and technician's card for visits resolved in ``[since, until)``."""
    resolved_orders = select(HistoryRecordRow.order_id).where(
        HistoryRecordRow.event == "resolved",
        HistoryRecordRow.recorded_wall_at >= since,
        HistoryRecordRow.recorded_wall_at < until,
    )
    rows = list(
        session.scalars(
            select(HistoryRecordRow).where(HistoryRecordRow.order_id.in_(resolved_orders))
        )
    )
    devices = {r.device_id for r in rows}
    device_rows: dict[str, list[HistoryRecordRow]] = defaultdict(list)
    if devices:
        for r in session.scalars(
            select(HistoryRecordRow).where(
                HistoryRecordRow.device_id.in_(devices),
                HistoryRecordRow.event.in_(("opened", "reopened", "severity_raised")),
            )
        ):
            device_rows[r.device_id].append(r)
    visits = [
        v for v in visits_from_history(rows, device_rows, policy) if since <= v.resolved_at < until
    ]
    techs = {t.id: t for t in session.scalars(select(TechnicianRow))}
    providers = {p.id: p.name for p in session.scalars(select(ProviderRow))}
    ordered = {v.order_id for v in visits}
    brands: dict[str, str | None] = {}
    if ordered:
        brands = dict(
            session.execute(
                select(WorkOrderRow.id, WorkOrderRow.brand).where(WorkOrderRow.id.in_(ordered))
            ).all()
        )
    for v in visits:
        v.brand = brands.get(v.order_id)
    for v in visits:  # a technician's provider today, when the record did not say
        if v.provider_id is None and v.technician_id in techs:
            v.provider_id = techs[v.technician_id].provider_id
    by_provider = tally(visits, lambda v: v.provider_id, providers, "provider", policy)
    by_tech = tally(
        visits,
        lambda v: v.technician_id,
        {k: t.name for k, t in techs.items()},
        "technician",
        policy,
    )
    for card in by_tech.values():
        tech = techs.get(card.subject)
        card.provider_id = tech.provider_id if tech is not None else None
    rank = lambda c: (-c.score, c.subject)  # noqa: E731
    return ScorecardReport(
        since, until, sorted(by_provider.values(), key=rank), sorted(by_tech.values(), key=rank)
    )


def asdict_visit(v: Visit) -> dict[str, Any]:
    return asdict(v)


class DispatchPreference:
    """Dispatch's view of the scorecards: a bonus per candidate, refreshed every ``ttl_s``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        policy: Callable[[], ScorecardPolicy],
        clock: Callable[[], datetime],
        ttl_s: float = 60.0,
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._clock = clock
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._scores: dict[str, float] = {}
        self._loaded = float("-inf")

    def invalidate(self) -> None:
        with self._lock:
            self._loaded = float("-inf")

    def scores(self) -> dict[str, float]:
        with self._lock:
            if time.monotonic() - self._loaded < self._ttl_s:
                return self._scores
        policy = self._policy()
        now = self._clock()
        with self._sessions() as session:
            report = build_scorecards(
                session, policy, now - timedelta(days=policy.dispatch_window_days), now
            )
        scores = {c.subject: c.score for c in report.providers}
        with self._lock:
            self._scores, self._loaded = scores, time.monotonic()
        return scores

    def __call__(self, brand: str | None) -> Callable[[Candidate], float] | None:
        """The service's hook: the bonus function for an order of ``brand``."""
        weight = self._policy().dispatch.weight(brand)
        if weight == 0:
            return None
        scores = self.scores()

        def bonus(candidate: Candidate) -> float:
            score = scores.get(candidate.provider_id or "")
            return 0.0 if score is None else weight * (score - 0.5)

        return bonus
