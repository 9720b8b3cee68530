"""The standard service flow: which status may follow which, and who may move it.

    open -> assigned -> accepted -> scheduled -> on_site -> resolved -> verified -> closed
    any active status -> cancelled | false_alarm;  resolved -> open (the fault came back)

``verified`` is normally set by the telemetry (fix verification), ``open`` after
``resolved`` by the detectors (reopen); people may also close or cancel. An illegal
move raises :class:`IllegalTransition` whose message says why; the API answers 409.

>>> check_transition("open", "assigned")
>>> check_transition("open", "resolved")
Traceback (most recent call last):
...
gateway.workorders.lifecycle.IllegalTransition: cannot go from 'open' to 'resolved': \
allowed next: assigned, cancelled, false_alarm
"""

from __future__ import annotations

from edge.contract import WorkOrderStatus as S

TERMINAL: frozenset[str] = frozenset({S.CLOSED, S.CANCELLED, S.FALSE_ALARM})

_ABANDON = (S.CANCELLED, S.FALSE_ALARM)
NEXT: dict[str, tuple[str, ...]] = {
    S.OPEN: (S.ASSIGNED, *_ABANDON),
    S.ASSIGNED: (S.ACCEPTED, S.ASSIGNED, S.OPEN, *_ABANDON),
    S.ACCEPTED: (S.SCHEDULED, S.ASSIGNED, *_ABANDON),
    S.SCHEDULED: (S.ON_SITE, S.SCHEDULED, S.ASSIGNED, *_ABANDON),
    S.ON_SITE: (S.RESOLVED, S.SCHEDULED, *_ABANDON),
    S.RESOLVED: (S.VERIFIED, S.CLOSED, S.OPEN),
    S.VERIFIED: (S.CLOSED,),
    S.CLOSED: (),
    S.CANCELLED: (),
    S.FALSE_ALARM: (),
}


class IllegalTransition(ValueError):
    """A status change the service flow does not allow; the message gives the reason."""


def check_transition(current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> target`` is allowed."""
    if target not in NEXT:
        raise IllegalTransition(f"unknown status {target!r}")
    allowed = NEXT.get(current, ())
    if target in allowed:
        return
    if not allowed:
        raise IllegalTransition(f"order is {current!r}, a final status: nothing may follow it")
    shown = ", ".join(sorted(str(s) for s in allowed if s != current))
    raise IllegalTransition(f"cannot go from {current!r} to {target!r}: allowed next: {shown}")
