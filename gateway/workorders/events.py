"""The extension points of the work-order service: what other layers may hear and advise.

Work orders do not know who listens (service quality, the demo, a metrics exporter); a
layer beside them registers here instead of patching the service's attributes:

- :class:`WorkOrderEvents`, through ``WorkOrderService.subscribe(events)``:

  * :meth:`~WorkOrderEvents.order_changed` runs INSIDE the transaction of every audited
    change (opened, reopened, severity_raised, each status change, verified,
    sla_breached), right after its audit row, with the same session: what it writes
    commits or rolls back with the change, and raising refuses the change;
  * :meth:`~WorkOrderEvents.order_committed` runs AFTER the commit, with one of
    :data:`COMMITTED_EVENTS` and the order's view (or a small dict for notices); a
    failure there is logged and undoes nothing.

- :class:`DispatchAdvice`, through ``WorkOrderService.prefer(advice)``: a per-candidate
  bonus for the orders of a brand, added to dispatch's ranking (at most one adviser:
  it decides who gets the work).

Plain callables ``(event, data)`` may still be appended to ``WorkOrderService.listeners``
for the after-commit events alone (the demo does).

This module imports no other layer, so ``gateway.quality`` can depend on it (and on
:mod:`gateway.workorders.dispatch` for :class:`Candidate`) without a circle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy.orm import Session

from gateway.workorders.dispatch import Candidate
from gateway.workorders.tables import WorkOrderRow

log = logging.getLogger(__name__)

#: After-commit event names (``order_committed``'s first argument).
OPENED: Final = "opened"
REOPENED: Final = "reopened"
TRANSITION: Final = "transition"
VERIFIED: Final = "verified"
NOTICE: Final = "notice"
SELF_FIXED: Final = "self_fixed"
COMMITTED_EVENTS: Final = frozenset({OPENED, REOPENED, TRANSITION, VERIFIED, NOTICE, SELF_FIXED})


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """One audited change, seen inside its transaction (``session`` is that transaction).

    ``action`` is the audit entry's action: ``opened``, ``reopened``, ``severity_raised``,
    ``sla_breached``, ``verified`` or the target status of a person's move (``assigned``,
    ``open`` when a technician declines, ...). ``row`` already holds the new state;
    ``previous`` is the status before (None when opened). ``device_at`` is the device
    time that caused it, for telemetry-driven changes.
    """

    session: Session
    row: WorkOrderRow
    action: str
    previous: str | None
    actor: str
    device_at: datetime | None
    detail: dict[str, Any]


#: An after-commit listener: ``(event, data)``.
Listener = Callable[[str, dict[str, Any]], None]


class WorkOrderEvents(Protocol):
    """What a layer beside work orders implements to hear of every order change."""

    def order_changed(self, change: OrderChanged, /) -> None:
        """In the change's transaction; may write with ``change.session``; raise to refuse."""

    def order_committed(self, event: str, data: dict[str, Any], /) -> None:
        """After the commit; ``event`` is one of :data:`COMMITTED_EVENTS`."""


class DispatchAdvice(Protocol):
    """Brand -> bonus per candidate (in units of load share), or None for no preference."""

    def __call__(self, brand: str | None, /) -> Callable[[Candidate], float] | None: ...


class EventBus:
    """The subscribers, in registration order, and how each kind of event reaches them."""

    def __init__(self) -> None:
        self.in_transaction: list[Callable[[OrderChanged], None]] = []
        #: After-commit listeners (public: ``WorkOrderService.listeners`` is this list).
        self.listeners: list[Listener] = []

    def subscribe(self, events: WorkOrderEvents) -> None:
        """Hear both kinds of event; subscribe before the service starts taking messages."""
        self.in_transaction.append(events.order_changed)
        self.listeners.append(events.order_committed)

    def changed(self, change: OrderChanged) -> None:
        """Every subscriber, in the change's transaction; an exception refuses the change."""
        for hook in self.in_transaction:
            hook(change)

    def committed(self, event: str, data: dict[str, Any]) -> None:
        """Every listener after the commit; a listener's failure is logged, never raised."""
        for listener in self.listeners:
            try:
                listener(event, data)
            except Exception:
                log.exception("work-order listener failed")
