"""Who goes, from the database: every active technician with their load, and the pick.

The ranking itself is pure (:mod:`gateway.workorders.dispatch`); this part reads the
candidates and asks the adviser (service quality's scorecards, registered through
``WorkOrderService.prefer``) for a bonus per candidate for the order's brand.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edge.contract import WorkOrderStatus as S
from gateway.workorders.dispatch import Candidate, choose_technician
from gateway.workorders.events import DispatchAdvice
from gateway.workorders.tables import ProviderRow, TechnicianRow, WorkOrderRow

#: Statuses counted as a technician's load.
IN_HAND = (S.ASSIGNED, S.ACCEPTED, S.SCHEDULED, S.ON_SITE)


def skills_of(tech: TechnicianRow, provider: ProviderRow | None) -> list[str]:
    """The kinds a technician repairs: their own, else their provider's.

    One rule for dispatch's pick and for a person's assignment, so a hand-picked
    technician is held to what dispatch would have required of them.
    """
    return list(tech.skills or (provider.skills if provider else []))


class Dispatcher:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._advice: DispatchAdvice | None = None

    def prefer(self, advice: DispatchAdvice | None) -> None:
        """Set (or, with None, drop) the one adviser whose bonus joins the ranking."""
        self._advice = advice

    def pick(self, order_id: str) -> str | None:
        """The best technician for the order now, or None (no such order, nobody able)."""
        with self._sessions() as session:
            row = session.get(WorkOrderRow, order_id)
            if row is None:
                return None
            candidates = self.candidates(session)
            bonus = self._advice(row.brand) if self._advice is not None else None
            best = choose_technician(candidates, kind=row.kind, region=row.region, bonus=bonus)
            return None if best is None else best.technician_id

    def candidates(self, session: Session) -> list[Candidate]:
        """Every technician with their current load (orders in hand)."""
        loads = dict(
            session.execute(
                select(WorkOrderRow.technician_id, func.count())
                .where(WorkOrderRow.status.in_(IN_HAND))
                .group_by(WorkOrderRow.technician_id)
            ).all()
        )
        providers = {p.id: p for p in session.scalars(select(ProviderRow))}
        out = []
        for tech in session.scalars(select(TechnicianRow).where(TechnicianRow.active.is_(True))):
            provider = providers.get(tech.provider_id or "")
            regions = tech.regions or (provider.regions if provider else [])
            skills = skills_of(tech, provider)
            out.append(
                Candidate(
                    tech.id,
                    tech.provider_id,
                    tuple(skills),
                    tuple(regions),
                    tech.daily_capacity,
                    tech.rating,
                    int(loads.get(tech.id, 0)),
                    provider.rating if provider else 0.0,
                )
            )
        return out
