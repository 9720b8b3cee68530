"""Providers, technicians and their badges are managed through the API body, not server files.

Issue 31: ``POST /quality/roster`` took a path and read whatever file on the gateway's
disk it named. It now takes the roster itself (the same schema as ``providers.toml``,
as JSON), checked whole before anything is written; a ``path`` is refused with one clear
error and nothing is read. The file stays loadable by the operator
(:meth:`gateway.quality.service.QualityService.load_roster`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from gateway.quality.tables import BadgeRow
from gateway.workorders.keys import Role
from tests.gateway.quality.helpers import make_rig
from tests.gateway.quality.http_api import ADMIN, app_for, key
from tests.gateway.workorders.http_helpers import serve


def roster(*badges: str) -> dict[str, Any]:
    """One provider with a technician per badge."""
    techs = [
        {"id": f"tech_{i}", "name": f"Tech {i}", "badge": badge, "skills": ["washer"]}
        for i, badge in enumerate(badges)
    ]
    return {
        "providers": [
            {"id": "sp_wash", "name": "WashRight", "skills": ["washer"], "technicians": techs}
        ]
    }


def badges(engine: Engine) -> dict[str, str]:
    with sessionmaker(engine)() as session:
        return {b.technician_id: b.badge for b in session.scalars(select(BadgeRow))}


def test_the_roster_comes_in_the_body_and_a_server_path_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    rig = make_rig(engine)
    secret = tmp_path / "roster.toml"  # a valid roster file on the gateway's disk
    secret.write_text('[[providers]]\nid = "sp_disk"\nname = "From disk"\n')
    brand = key(rig, Role.BRAND, brand="Aurora")
    with serve(app_for(rig)) as base, httpx.Client(base_url=base + "/api/v1") as http:
        r = http.post("/quality/roster", json={"path": str(secret)}, headers=ADMIN)
        assert r.status_code == 422, r.text
        assert "does not read files" in r.text
        assert [p["id"] for p in http.get("/providers", headers=ADMIN).json()] == []

        r = http.post("/quality/roster", json=roster("WR-1", "WR-2"), headers=ADMIN)
        assert r.status_code == 200, r.text
        assert r.json() == {"providers": 1, "technicians": 2}
        techs = {t["id"]: t for t in http.get("/technicians", headers=ADMIN).json()}
        assert techs["tech_0"]["provider_id"] == "sp_wash"
        assert badges(engine) == {"tech_0": "WR-1", "tech_1": "WR-2"}

        # checked whole: a repeated badge names its place, and nothing is written
        r = http.post("/quality/roster", json=roster("WR-9", "WR-9"), headers=ADMIN)
        assert r.status_code == 422, r.text
        assert "providers.0.technicians.1.badge: badge 'WR-9' repeated" in r.json()["detail"]
        assert badges(engine) == {"tech_0": "WR-1", "tech_1": "WR-2"}

        assert http.post("/quality/roster", json=roster("X"), headers=brand).status_code == 403
