"""The quality layer over real HTTP: the gateway app with every router, keys, a whole visit.

The trust tests of issue 31 act as a new user would, through the API of a running
gateway (uvicorn in a thread, :func:`tests.gateway.workorders.http_helpers.serve`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from gateway.api.app import ApiState, create_app
from gateway.metrics import GatewayMetrics
from gateway.quality.api import quality_routers
from gateway.workorders.api import ApiContext, device_scope, service_routers
from gateway.workorders.keys import Role, create_key
from tests.gateway.quality.helpers import Rig
from tests.gateway.workorders.http_helpers import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def app_for(rig: Rig) -> FastAPI:
    """The gateway's app with the work-order and quality routers, scoped by our keys."""
    ctx = ApiContext(rig.service, ADMIN_TOKEN)
    state = ApiState(engine=rig.engine, metrics=GatewayMetrics(), recent=lambda _d, _n: [])
    return create_app(
        state,
        routers=[*service_routers(ctx), *quality_routers(ctx, rig.quality)],
        device_scope=device_scope(ctx),
        admin_token=ADMIN_TOKEN,
    )


def key(rig: Rig, role: Role, **who: str) -> dict[str, str]:
    """The Authorization header of a fresh key of ``role`` (brand=..., technician_id=...)."""
    with sessionmaker(rig.engine).begin() as session:
        _, token = create_key(session, role=role, name="test", **who)
    return {"Authorization": f"Bearer {token}"}


def move(http: httpx.Client, order_id: str, headers: dict[str, str], **body: Any) -> None:
    """One transition; fails the test with the API's answer if it is refused."""
    r = http.post(f"/work-orders/{order_id}/transitions", json=body, headers=headers)
    assert r.status_code == 200, r.text


def go_on_site(
    http: httpx.Client, rig: Rig, order_id: str, technician_id: str, tech: dict[str, str]
) -> None:
    """Admin assigns; the technician accepts, schedules and arrives (the clock moves)."""
    move(http, order_id, ADMIN, to="assigned", technician_id=technician_id)
    rig.clock.advance(hours=1)
    move(http, order_id, tech, to="accepted")
    soon = (rig.clock.now + timedelta(hours=2)).isoformat()
    move(http, order_id, tech, to="scheduled", scheduled_for=soon)
    rig.clock.advance(hours=3)
    move(http, order_id, tech, to="on_site")


def resolve(
    http: httpx.Client, rig: Rig, order_id: str, tech: dict[str, str], root_cause: str
) -> None:
    """The technician reports the repair with the root cause they found."""
    rig.clock.advance(hours=1)
    move(http, order_id, tech, to="resolved", root_cause=root_cause)
