"""The provider roster: service companies, their technicians and ID badges.

Brands hand over their providers as a TOML file (``providers.toml``, loaded by the operator)
or as the same document in JSON through ``POST /api/v1/quality/roster`` (the API never
reads a file on the gateway's disk: it would read any path it was given). It is validated
whole first (unique ids and badges, known skills, ratings 0..5), and only then written
in one transaction: a file with an error changes nothing, and the roster in force stays.
Providers and technicians go to the work-order service's own tables (dispatch reads
them there); badge numbers, which the customer sees before a visit, to ours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from gateway.quality.config_files import LocatedError, load_model
from gateway.quality.tables import BadgeRow
from gateway.workorders.ids import utcnow
from gateway.workorders.tables import ProviderRow, TechnicianRow

Id = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
Rating = Annotated[float, Field(ge=0, le=5)]
Skill = Literal["ac", "washer"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TechnicianEntry(_Strict):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=128)]
    badge: Annotated[str, Field(min_length=1, max_length=64)]
    skills: list[Skill] = []
    regions: list[str] = []
    daily_capacity: Annotated[int, Field(ge=0, le=100)] = 6
    rating: Rating = 4.0
    active: bool = True


class ProviderEntry(_Strict):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=128)]
    skills: list[Skill] = []
    regions: list[str] = []
    rating: Rating = 4.0
    technicians: list[TechnicianEntry] = []


class Roster(_Strict):
    providers: list[ProviderEntry]


def check_roster(roster: Roster) -> None:
    """The checks beyond the schema (unique ids and badges); LocatedError at the first."""
    providers: set[str] = set()
    technicians: set[str] = set()
    badges: set[str] = set()
    for i, provider in enumerate(roster.providers):
        if provider.id in providers:
            raise LocatedError(("providers", i, "id"), f"provider id {provider.id!r} repeated")
        providers.add(provider.id)
        for j, tech in enumerate(provider.technicians):
            where = ("providers", i, "technicians", j)
            if tech.id in technicians:
                raise LocatedError((*where, "id"), f"technician id {tech.id!r} repeated")
            if tech.badge in badges:
                raise LocatedError((*where, "badge"), f"badge {tech.badge!r} repeated")
            technicians.add(tech.id)
            badges.add(tech.badge)


def load_roster(path: Path) -> Roster:
    """Parse and validate a roster file; ConfigFileError (file, line, reason) if bad."""
    return load_model(path, Roster, check_roster)


def apply_roster(session: Session, roster: Roster) -> dict[str, int]:
    """Upsert the roster's providers, technicians and badges (caller commits)."""
    now = utcnow()
    techs = 0
    # badges move between technicians: clear the ones this file reassigns first
    for provider in roster.providers:
        for tech in provider.technicians:
            for held in session.query(BadgeRow).filter(
                BadgeRow.badge == tech.badge, BadgeRow.technician_id != tech.id
            ):
                session.delete(held)
    session.flush()
    for provider in roster.providers:
        row = session.get(ProviderRow, provider.id) or ProviderRow(
            id=provider.id, created_wall_at=now
        )
        row.name, row.skills, row.regions, row.rating = (
            provider.name,
            list(provider.skills),
            list(provider.regions),
            provider.rating,
        )
        session.add(row)
        session.flush()
        for tech in provider.technicians:
            trow = session.get(TechnicianRow, tech.id) or TechnicianRow(
                id=tech.id, created_wall_at=now
            )
            trow.name, trow.provider_id = tech.name, provider.id
            trow.skills, trow.regions = list(tech.skills), list(tech.regions)
            trow.daily_capacity, trow.rating, trow.active = (
                tech.daily_capacity,
                tech.rating,
                tech.active,
            )
            session.add(trow)
            badge = session.get(BadgeRow, tech.id) or BadgeRow(technician_id=tech.id)
            badge.badge = tech.badge
            session.add(badge)
            techs += 1
    session.flush()
    return {"providers": len(roster.providers), "technicians": techs}
