"""Who goes: pick a technician by skill, region, load and rating (pure, no I/O).

A technician qualifies when they (or their provider) repair the appliance's kind,
cover its region (``"*"`` covers every region; a device with an unknown region can
go to anyone), are active, and hold fewer active orders than their daily capacity.
Among those, the least loaded (as a share of capacity) wins, then the best rated,
then the provider's rating: work spreads out, and the best people get the ties.

>>> techs = [
...     Candidate("t1", "p1", ("ac",), ("CN-32",), 4, 4.9, 3),
...     Candidate("t2", "p1", ("ac",), ("CN-32",), 4, 4.1, 0),
...     Candidate("t3", "p2", ("washer",), ("CN-32",), 4, 5.0, 0),
...     Candidate("t4", "p2", ("ac",), ("CN-11",), 4, 5.0, 0),
... ]
>>> choose_technician(techs, kind="ac", region="CN-32").technician_id
't2'
>>> choose_technician(techs, kind="washer", region="CN-11") is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

ANY_REGION = "*"


@dataclass(frozen=True, slots=True)
class Candidate:
    technician_id: str
    provider_id: str | None
    skills: tuple[str, ...]
    regions: tuple[str, ...]
    daily_capacity: int
    rating: float
    load: int
    provider_rating: float = 0.0


def qualifies(tech: Candidate, *, kind: str, region: str | None) -> bool:
    if kind not in tech.skills or tech.load >= tech.daily_capacity:
        return False
    return region is None or ANY_REGION in tech.regions or region in tech.regions


def choose_technician(
    candidates: Iterable[Candidate],
    *,
    kind: str,
    region: str | None,
    bonus: Callable[[Candidate], float] | None = None,
) -> Candidate | None:
    """The best qualified technician, or None when nobody can take it today.

    ``bonus`` (service quality, ``gateway.quality.scorecards``): a standing added per
    candidate, in the units of the load share, so better-scored providers take more.
    """
    able = [t for t in candidates if qualifies(t, kind=kind, region=region)]
    if not able:
        return None
    return min(
        able,
        key=lambda t: (
            t.load / max(t.daily_capacity, 1) - (bonus(t) if bonus else 0.0),
            -t.rating,
            -t.provider_rating,
            t.technician_id,
        ),
    )
