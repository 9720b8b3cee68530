"""The service-quality layer, beside the work-order service and subscribed to it.

``QualityService(workorders).attach()`` (or, spelled out as the service loop does,
``workorders.subscribe(quality)`` and ``workorders.prefer(quality.dispatch)``) uses the
work-order service's two extension points (:mod:`gateway.workorders.events`):

- as :class:`~gateway.workorders.events.WorkOrderEvents`:
  :meth:`QualityService.order_changed` runs inside the transaction of every audited
  change. It appends the event to the device's hash chain, states the order's expected
  cost and warranty decision when it opens, and queues the customer's progress notice
  (with the technician's name and badge once scheduled). The chain append is not
  optional: if it fails, the change fails with it. :meth:`QualityService.order_committed`
  wakes the notice relay after the commit.
- as :class:`~gateway.workorders.events.DispatchAdvice`: the scorecards'
  :class:`DispatchPreference` (better providers get more orders, weight per brand).

People's inputs beyond the lifecycle come here: the technician's final bill
(:meth:`bill`, priced and checked against the brand's list, flagged when over range) and
the customer's rating (:meth:`rate`). Files (price list, warranty policy, scorecard
policy, provider roster) load with the file, line and reason on error, and a failed
reload leaves the previous file in force. Their paths: the constructor's arguments, else
``HOUSECALL_PRICE_LIST`` / ``HOUSECALL_WARRANTY_POLICY`` / ``HOUSECALL_SCORECARD_POLICY``,
else the samples shipped in this package.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db import create_schema
from gateway.device_table import Device
from gateway.quality import history as chain
from gateway.quality.config_files import ConfigFileError, LocatedError, Reloadable
from gateway.quality.notices import NoticeRelay, enqueue, progress_notice
from gateway.quality.pricing import PriceList, UnknownPart, default_file, load_price_list
from gateway.quality.providers import Roster, apply_roster, check_roster, load_roster
from gateway.quality.scorecards import (
    DispatchPreference,
    ScorecardPolicy,
    ScorecardReport,
    build_scorecards,
    load_scorecard_policy,
)
from gateway.quality.tables import BadgeRow, BillRow, OrderQuoteRow, RatingRow
from gateway.quality.warranty import (
    WarrantyDecision,
    WarrantyPolicy,
    decide,
    load_warranty_policy,
)
from gateway.workorders.errors import OrderNotFound
from gateway.workorders.events import OrderChanged
from gateway.workorders.ids import aware, maybe_aware
from gateway.workorders.keys import ADMIN, Role, Scope
from gateway.workorders.queries import visible
from gateway.workorders.service import WorkOrderService
from gateway.workorders.tables import TechnicianRow, WorkOrderRow
from gateway.workorders.views import iso
from gateway.workorders.webhooks import enqueue_event

log = logging.getLogger(__name__)

#: audit action -> history event name (the rest keep their name)
EVENTS = {"on_site": "visited", "open": "declined"}
#: statuses after which a bill makes sense (the technician has been and done the work)
BILLABLE = frozenset({"on_site", "resolved", "verified", "closed"})
RATEABLE = frozenset({"resolved", "verified", "closed"})
WITH_EVIDENCE = frozenset({"opened", "reopened", "severity_raised", "resolved"})


#: Where a deployment keeps its own files (unset: the samples shipped with this package).
ENV_PRICES = "HOUSECALL_PRICE_LIST"
ENV_WARRANTY = "HOUSECALL_WARRANTY_POLICY"
ENV_SCORECARD = "HOUSECALL_SCORECARD_POLICY"


def _file(given: Path | None, env: str, sample: str) -> Path:
    if given is not None:
        return given
    configured = os.environ.get(env)
    return Path(configured) if configured else default_file(sample)


class InvalidInput(ValueError):
    """Bad input the caller can fix (unknown part, rating out of range): HTTP 422."""


class WrongState(ValueError):
    """Not now: the order is not in a status where this makes sense: HTTP 409."""


class QualityService:
    def __init__(
        self,
        workorders: WorkOrderService,
        *,
        prices: Path | None = None,
        warranty: Path | None = None,
        scorecard: Path | None = None,
    ) -> None:
        self.workorders = workorders
        self.sessions = workorders.sessions
        create_schema(self.sessions.kw["bind"])
        self.prices: Reloadable[PriceList] = Reloadable(
            _file(prices, ENV_PRICES, "prices.toml"), load_price_list
        )
        self.warranty: Reloadable[WarrantyPolicy] = Reloadable(
            _file(warranty, ENV_WARRANTY, "warranty.toml"), load_warranty_policy
        )
        self.policy: Reloadable[ScorecardPolicy] = Reloadable(
            _file(scorecard, ENV_SCORECARD, "scorecard.toml"), load_scorecard_policy
        )
        self.dispatch = DispatchPreference(
            self.sessions, lambda: self.policy.value, workorders.clock
        )
        self.relay = NoticeRelay(self.sessions, lambda: workorders.publish_notice)
        self._relay_running = False

    # ------------------------------------------------------------------ wiring

    def attach(self) -> QualityService:
        """Subscribe to the work orders' events and advise their dispatch; returns self."""
        self.workorders.subscribe(self)
        self.workorders.prefer(self.dispatch)
        return self

    def start(self, notice_poll_s: float = 1.0) -> None:
        self.relay.start(notice_poll_s)
        self._relay_running = True

    def stop(self) -> None:
        self.relay.stop()
        self._relay_running = False

    # ------------------------------------------------------------------ WorkOrderEvents

    def order_committed(self, _event: str, _data: dict[str, Any], /) -> None:
        """After a change: progress notices may be waiting, send them now."""
        if self._relay_running:
            self.relay.poke()
        else:
            self.relay.drain()

    def order_changed(self, change: OrderChanged, /) -> None:
        """Inside the change's transaction: chain record, terms at opening, progress notice."""
        session, row, action = change.session, change.row, change.action
        previous, actor, device_at = change.previous, change.actor, change.device_at
        now = self.workorders.clock()
        device = session.get(Device, row.device_id)
        when = maybe_aware(device_at) or (
            maybe_aware(device.last_seen_at) if device is not None else None
        )
        event = EVENTS.get(action, action)
        payload: dict[str, Any] = {
            "kind": row.kind,
            "fault": row.fault,
            "from": previous,
            "status": row.status,
            "severity": row.severity,
            "technician_id": row.technician_id,
            "provider_id": row.provider_id,
            "detail": change.detail,
        }
        if event in WITH_EVIDENCE:
            payload["evidence"] = list(row.evidence or [])
        if event == "opened":
            payload.update(
                confidence=row.confidence,
                opened_at=iso(row.opened_at),
                predicted_failure_at=iso(row.predicted_failure_at),
                alternatives=list(row.alternatives or []),
                recommended_parts=list(row.recommended_parts or []),
            )
        if event == "reopened":
            payload["predicted_failure_at"] = iso(row.predicted_failure_at)
        chain.append(
            session,
            device_id=row.device_id,
            order_id=row.id,
            event=event,
            actor=actor,
            at=now,
            device_at=when,
            payload=payload,
        )
        if event == "opened":
            self._state_terms(session, row, device, now, when)
        self._queue_notice(session, row, action, now, when)

    def _state_terms(
        self,
        session: Session,
        row: WorkOrderRow,
        device: Device | None,
        now: datetime,
        device_at: datetime | None,
    ) -> None:
        """The expected cost and the warranty decision, stored with the order and chained."""
        try:
            quote = self.prices.value.quote(row.brand, row.fault)
            decision = self._decide(row, device)
        except Exception:  # a pricing bug must not stop an order from opening
            log.exception("could not state the terms of %s", row.id)
            return
        session.add(
            OrderQuoteRow(
                order_id=row.id,
                brand=row.brand,
                currency=quote.currency,
                expected_low=quote.low,
                expected_high=quote.high,
                quote=quote.as_json(),
                warranty=decision.as_json(),
                created_wall_at=now,
            )
        )
        chain.append(
            session,
            device_id=row.device_id,
            order_id=row.id,
            event="terms_stated",
            actor="quality",
            at=now,
            device_at=device_at,
            payload={"quote": quote.as_json(), "warranty": decision.as_json()},
        )

    def _decide(self, row: WorkOrderRow, device: Device | None) -> WarrantyDecision:
        return decide(
            self.warranty.value,
            brand=row.brand,
            model=row.model,
            fault=row.fault,
            installed_on=device.installed_on if device else None,
            warranty_until=device.warranty_until if device else None,
            at=aware(row.opened_at).date(),
        )

    def _queue_notice(
        self,
        session: Session,
        row: WorkOrderRow,
        action: str,
        now: datetime,
        device_at: datetime | None,
    ) -> None:
        if action not in ("opened", "reopened") and action != row.status:
            return  # not a status change (severity raised, SLA breached...)
        if action == "open":
            return  # a technician declined: the customer hears when someone else is assigned
        if self.workorders.publish_notice is None:
            return  # no way to reach customers configured: queue nothing that never leaves
        name = badge = None
        if row.technician_id and row.status in ("scheduled", "on_site"):  # who is coming
            tech = session.get(TechnicianRow, row.technician_id)
            held = session.get(BadgeRow, row.technician_id)
            name = tech.name if tech else None
            badge = held.badge if held else None
        try:
            notice = progress_notice(
                row.device_id,
                device_at or aware(row.last_seen_at),
                row.fault,
                row.id,
                row.status,
                reopened=action == "reopened",
                technician=name,
                badge=badge,
                scheduled_for=maybe_aware(row.scheduled_for),
            )
        except ValueError:
            log.exception("could not build the progress notice of %s", row.id)
            return
        if notice is not None:
            enqueue(session, notice, now=now)

    # ------------------------------------------------------------------ bills and ratings

    def _order(self, session: Session, order_id: str, scope: Scope) -> WorkOrderRow:
        row = session.get(WorkOrderRow, order_id, with_for_update=True)
        if row is None or not visible(row, scope):
            raise OrderNotFound(order_id)
        return row

    def bill(
        self,
        order_id: str,
        *,
        labour: float,
        parts: Sequence[tuple[str, int]],
        unit_prices: dict[str, float] | None = None,
        scope: Scope = ADMIN,
        notes: str | None = None,
    ) -> dict[str, Any]:
        """Record the technician's final bill; check it against the brand's price list."""
        if labour < 0 or any(q <= 0 for _, q in parts):
            raise InvalidInput("labour must be >= 0 and every part quantity > 0")
        now = self.workorders.clock()
        with self.sessions.begin() as session:
            row = self._order(session, order_id, scope)
            if row.status not in BILLABLE:
                raise WrongState(
                    f"order is {row.status!r}: a bill comes after the visit "
                    f"(one of: {', '.join(sorted(BILLABLE))})"
                )
            try:
                check = self.prices.value.check_bill(
                    row.brand,
                    row.fault,
                    row.root_cause,
                    labour=labour,
                    parts=parts,
                    unit_prices=unit_prices,
                )
            except UnknownPart as err:
                raise InvalidInput(str(err)) from None
            terms = session.get(OrderQuoteRow, order_id)
            decision = (
                WarrantyDecision(**terms.warranty)
                if terms is not None and terms.warranty
                else self._decide(row, session.get(Device, row.device_id))
            )
            customer = decision.customer_amount(check.total, check.labour)
            body = {
                **check.as_json(),
                "customer_pays": customer,
                "warranty": decision.as_json(),
                "notes": notes,
            }
            session.add(
                BillRow(
                    order_id=order_id,
                    brand=row.brand,
                    technician_id=row.technician_id,
                    currency=check.currency,
                    total=check.total,
                    customer_pays=customer,
                    flagged=check.flagged,
                    check=body,
                    created_wall_at=now,
                )
            )
            chain.append(
                session,
                device_id=row.device_id,
                order_id=order_id,
                event="billed",
                actor=scope.actor,
                at=now,
                device_at=self._device_now(session, row.device_id),
                payload={**body, "technician_id": row.technician_id},
            )
            if check.flagged:
                enqueue_event(
                    session,
                    brand=row.brand,
                    event_type="bill.flagged",
                    data={"order_id": order_id, "technician_id": row.technician_id, **body},
                    order_id=order_id,
                    now=now,
                )
        return {"order_id": order_id, **body}

    def rate(
        self, order_id: str, stars: int, *, comment: str | None = None, scope: Scope = ADMIN
    ) -> dict[str, Any]:
        """The customer's rating of the visit (1..5 stars)."""
        if not 1 <= stars <= 5:
            raise InvalidInput(f"rating must be 1 to 5 stars, got {stars}")
        now = self.workorders.clock()
        with self.sessions.begin() as session:
            row = self._order(session, order_id, scope)
            if row.status not in RATEABLE:
                raise WrongState(f"order is {row.status!r}: a visit is rated after the repair")
            session.add(
                RatingRow(
                    order_id=order_id,
                    technician_id=row.technician_id,
                    stars=stars,
                    comment=comment,
                    created_wall_at=now,
                )
            )
            chain.append(
                session,
                device_id=row.device_id,
                order_id=order_id,
                event="rated",
                actor=scope.actor,
                at=now,
                device_at=self._device_now(session, row.device_id),
                payload={"stars": stars, "comment": comment, "technician_id": row.technician_id},
            )
        return {"order_id": order_id, "stars": stars, "technician_id": row.technician_id}

    @staticmethod
    def _device_now(session: Session, device_id: str) -> datetime | None:
        device = session.get(Device, device_id)
        return maybe_aware(device.last_seen_at) if device is not None else None

    # ------------------------------------------------------------------ reads

    def order_quality(self, order_id: str, scope: Scope = ADMIN) -> dict[str, Any]:
        with self.sessions() as session:
            row = session.get(WorkOrderRow, order_id)
            if row is None or not visible(row, scope):
                raise OrderNotFound(order_id)
            terms = session.get(OrderQuoteRow, order_id)
            bills = session.scalars(
                select(BillRow).where(BillRow.order_id == order_id).order_by(BillRow.id)
            ).all()
            return {
                "order_id": order_id,
                "expected_cost": terms.quote if terms else None,
                "warranty": terms.warranty if terms else None,
                "bills": [_bill_json(b) for b in bills],
            }

    def bills(self, scope: Scope = ADMIN, *, flagged: bool | None = None) -> list[dict[str, Any]]:
        query = select(BillRow).order_by(BillRow.id.desc()).limit(1000)
        if flagged is not None:
            query = query.where(BillRow.flagged.is_(flagged))
        if scope.role is Role.BRAND:
            query = query.where(BillRow.brand == scope.brand)
        elif scope.role is Role.TECHNICIAN:
            query = query.where(BillRow.technician_id == scope.technician_id)
        with self.sessions() as session:
            return [_bill_json(b) for b in session.scalars(query)]

    def device_visible(self, device_id: str, scope: Scope) -> bool:
        if scope.role is Role.ADMIN:
            return True
        if scope.role is not Role.BRAND:
            return False
        with self.sessions() as session:
            device = session.get(Device, device_id)
            return device is not None and device.brand == scope.brand

    def history(self, device_id: str) -> list[dict[str, Any]]:
        with self.sessions() as session:
            return [chain.record_json(r) for r in chain.records(session, device_id)]

    def verify(self, device_id: str) -> chain.ChainReport:
        with self.sessions() as session:
            return chain.verify_chain(session, device_id)

    def scorecards(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> ScorecardReport:
        now = self.workorders.clock()
        until = until or now + timedelta(seconds=1)
        since = since or until - timedelta(days=self.policy.value.dispatch_window_days)
        with self.sessions() as session:
            return build_scorecards(session, self.policy.value, aware(since), aware(until))

    # ------------------------------------------------------------------ files

    def load_roster(self, path: Path) -> dict[str, int]:
        """Validate the whole roster file, then write it (ConfigFileError: nothing written).

        For the operator's own files (from Python); the API sends the roster itself
        (:meth:`apply_roster`) and never names a path on the gateway's disk.
        """
        roster = load_roster(path)
        with self.sessions.begin() as session:
            return apply_roster(session, roster)

    def apply_roster(self, roster: Roster) -> dict[str, int]:
        """Check a roster sent through the API whole, then write it (InvalidInput: nothing)."""
        try:
            check_roster(roster)
        except LocatedError as err:
            where = ".".join(str(part) for part in err.loc)
            raise InvalidInput(f"{where}: {err.reason}") from None
        with self.sessions.begin() as session:
            return apply_roster(session, roster)

    def reload(self) -> dict[str, str | None]:
        """Reload every file from its path; errors per file (the old one stays in force)."""
        out: dict[str, str | None] = {}
        for name, holder in (
            ("prices", self.prices),
            ("warranty", self.warranty),
            ("scorecard", self.policy),
        ):
            try:
                holder.reload()
                out[name] = None
            except ConfigFileError as err:
                out[name] = str(err)
        self.dispatch.invalidate()
        return out


def _bill_json(b: BillRow) -> dict[str, Any]:
    return {
        "id": b.id,
        "order_id": b.order_id,
        "brand": b.brand,
        "technician_id": b.technician_id,
        "currency": b.currency,
        "total": b.total,
        "customer_pays": b.customer_pays,
        "flagged": b.flagged,
        "reasons": b.check.get("reasons", []),
        "check": b.check,
        "created_at": iso(b.created_wall_at),
    }
