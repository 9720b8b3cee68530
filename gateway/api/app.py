"""``create_app``: the gateway's FastAPI app (``/healthz``, ``/metrics``, devices, dead letters).

Other packages add routes without touching this file: pass routers to
``create_app(state, routers=[...])`` (they are included after the routes here,
so a path defined here wins). Access control for ``/api/v1`` is a seam too:

- ``device_scope``: a FastAPI dependency that authenticates the caller and
  returns ``None`` (may see every device) or a brand name (sees that brand's
  devices only); it raises ``HTTPException(401/403)`` to refuse. The work-order
  service's API keys plug in here.
- without it, ``admin_token`` (``HOUSECALL_ADMIN_TOKEN``) is required as
  ``Authorization: Bearer ...`` when set, and the API is open when it is not.

``/healthz`` and ``/metrics`` never need a token (probes and Prometheus).
"""

# No ``from __future__ import annotations``: FastAPI reads the route signatures at runtime.
import base64
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, select

from gateway.deadletters import count_by_reason, recent_dead_letters
from gateway.device_table import Device
from gateway.metrics import GatewayMetrics

API_PREFIX = "/api/v1"

RecentReader = Callable[[str, int], list[dict[str, Any]]]
DeviceScope = Callable[..., str | None]

_bearer = HTTPBearer(auto_error=False, description="HOUSECALL_ADMIN_TOKEN or an API key")


@dataclass
class ApiState:
    """What the routes read. ``recent(device_id, limit)`` returns newest samples first."""

    engine: Engine
    metrics: GatewayMetrics
    recent: RecentReader
    ready: Callable[[], bool] = lambda: True
    extra_health: dict[str, Callable[[], Any]] = field(default_factory=dict)


def admin_token_scope(admin_token: str | None) -> DeviceScope:
    """The default guard: the admin bearer token when one is configured, else open."""

    def scope(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> str | None:
        if admin_token is None:
            return None
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), admin_token.encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None

    return scope


def create_app(
    state: ApiState,
    *,
    routers: Sequence[APIRouter] = (),
    device_scope: DeviceScope | None = None,
    admin_token: str | None = None,
    title: str = "Housecall gateway",
) -> FastAPI:
    """The app; ``routers`` are mounted after the gateway's own routes."""
    app = FastAPI(title=title, version="1")
    app.state.gateway = state
    app.include_router(_health_router(state))
    app.include_router(_ingest_router(state, device_scope or admin_token_scope(admin_token)))
    for router in routers:
        app.include_router(router)
    return app


def _health_router(state: ApiState) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="200 once the gateway is subscribed to the broker")
    def healthz(response: Response) -> dict[str, Any]:
        ready = state.ready()
        if not ready:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        body: dict[str, Any] = {"status": "ok" if ready else "starting"}
        for name, read in state.extra_health.items():
            body[name] = read()
        return body

    @router.get("/metrics", summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _ingest_router(state: ApiState, device_scope: DeviceScope) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, tags=["devices", "dead letters"])
    Brand = Annotated[str | None, Depends(device_scope)]  # noqa: N806

    @router.get("/devices", summary="Devices in the registry (a brand key sees its brand's)")
    def list_devices(
        brand_scope: Brand,
        *,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(description="`next` of the previous page")] = None,
        kind: str | None = None,
        brand: str | None = None,
        online: bool | None = None,
    ) -> dict[str, Any]:
        query = select(Device.__table__).order_by(Device.device_id).limit(limit + 1)
        if brand_scope is not None:
            query = query.where(Device.brand == brand_scope)
        if brand:
            query = query.where(Device.brand == brand)
        if kind:
            query = query.where(Device.kind == kind)
        if online is not None:
            query = query.where(Device.online.is_(online))
        if cursor:
            query = query.where(Device.device_id > cursor)
        with state.engine.connect() as connection:
            rows = [dict(row) for row in connection.execute(query).mappings()]
        items = [_device_json(row) for row in rows[:limit]]
        return {"items": items, "next": items[-1]["device_id"] if len(rows) > limit else None}

    @router.get("/devices/{device_id}", summary="One device with its recent telemetry")
    def get_device(
        device_id: str,
        brand_scope: Brand,
        samples: Annotated[int, Query(ge=0, le=1000)] = 50,
    ) -> dict[str, Any]:
        with state.engine.connect() as connection:
            row = (
                connection.execute(select(Device.__table__).where(Device.device_id == device_id))
                .mappings()
                .first()
            )
        if row is None or (brand_scope is not None and row["brand"] != brand_scope):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id!r}")
        body = _device_json(dict(row))
        body["recent_telemetry"] = [_sample_json(s) for s in state.recent(device_id, samples)]
        return body

    @router.get("/dead-letters", summary="Messages the contract refused, newest first")
    def dead_letters(
        brand_scope: Brand,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        reason: str | None = None,
        device_id: str | None = None,
        before: Annotated[int | None, Query(description="`next` of the previous page")] = None,
    ) -> dict[str, Any]:
        if brand_scope is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "dead letters are for operators")
        with state.engine.connect() as connection:
            rows = recent_dead_letters(
                connection, limit=limit + 1, reason=reason, device_id=device_id, before_id=before
            )
            counts = count_by_reason(connection)
        items = [_dead_letter_json(row) for row in rows[:limit]]
        return {
            "items": items,
            "next": items[-1]["id"] if len(rows) > limit else None,
            "counts": counts,
        }

    return router


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        text = value.isoformat()
        return text if value.tzinfo else text + "+00:00"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _device_json(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _iso(value) for name, value in row.items()}


def _sample_json(sample: dict[str, Any]) -> dict[str, Any]:
    return {name: _iso(value) for name, value in sample.items() if value is not None}


def _dead_letter_json(row: dict[str, Any]) -> dict[str, Any]:
    payload: bytes = row.pop("payload")
    out = {name: _iso(value) for name, value in row.items()}
    out["payload_text"] = payload.decode("utf-8", errors="replace")
    out["payload_base64"] = base64.b64encode(payload).decode()
    return out
