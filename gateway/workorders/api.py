"""REST routers of the service loop (``/api/v1``): work orders, dispatch, SLA, keys, webhooks.

Mount them on the gateway's app: ``create_app(state, routers=service_routers(ctx),
device_scope=device_scope(ctx))`` (the gateway app serves ``/devices`` and
``/dead-letters`` itself; :func:`device_scope` makes it honour our keys).
Every route needs ``Authorization: Bearer <token>``: the admin token
(``HOUSECALL_ADMIN_TOKEN``) or a key made through ``POST /api/v1/api-keys``. As for the
gateway's own routes, a gateway started WITHOUT an admin token serves callers that
send no key as admin (a laptop, the demo); a key that is sent is always checked. Scoping
(see :mod:`gateway.workorders.keys`) is applied in the queries themselves, so an order
outside the caller's scope is indistinguishable from a missing one: 404.

Errors: 401 missing/wrong key, 403 role not allowed, 404 not found (or not yours),
409 illegal transition (the body's ``detail`` says why), 422 bad input.

(No ``from __future__ import annotations`` here: FastAPI must see the route-local
``Caller`` dependency alias as an object, not a string.)
"""

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, Field, HttpUrl
from sqlalchemy import select

from edge.contract import WorkOrderStatus
from gateway.workorders.ids import new_id, utcnow
from gateway.workorders.keys import Role, Scope, authenticate, create_key
from gateway.workorders.lifecycle import IllegalTransition
from gateway.workorders.service import InvalidRequest, OrderNotFound, WorkOrderService
from gateway.workorders.tables import (
    ApiKeyRow,
    ProviderRow,
    TechnicianRow,
    WebhookAttemptRow,
    WebhookOutboxRow,
    WebhookSubscriptionRow,
)
from gateway.workorders.views import iso

API = "/api/v1"
_bearer = HTTPBearer(auto_error=False, description="admin token or an API key")
OPEN_ACCESS = Scope(Role.ADMIN, key_id="open")

#: What a technician key may do to its own orders.
TECHNICIAN_MOVES = frozenset(
    {
        WorkOrderStatus.ACCEPTED,
        WorkOrderStatus.SCHEDULED,
        WorkOrderStatus.ON_SITE,
        WorkOrderStatus.RESOLVED,
        WorkOrderStatus.FALSE_ALARM,
        WorkOrderStatus.OPEN,  # decline an assignment
    }
)


@dataclass
class ApiContext:
    service: WorkOrderService
    admin_token: str | None


# ---------------------------------------------------------------- request bodies


class TransitionIn(BaseModel):
    to: WorkOrderStatus = Field(description="target status")
    technician_id: str | None = Field(None, description="for 'assigned'; omitted: dispatch picks")
    scheduled_for: AwareDatetime | None = Field(None, description="for 'scheduled'")
    root_cause: str | None = Field(None, description="for 'resolved': the confirmed fault")
    parts_used: list[str] = Field(default_factory=list)
    notes: str | None = Field(None, max_length=4000)


class ProviderIn(BaseModel):
    name: str = Field(max_length=128)
    skills: list[Literal["ac", "washer"]] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="ISO 3166-2 codes or '*'")
    rating: float = Field(4.0, ge=0, le=5)


class TechnicianIn(BaseModel):
    name: str = Field(max_length=128)
    provider_id: str | None = None
    skills: list[Literal["ac", "washer"]] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="empty: the provider's")
    daily_capacity: int = Field(6, ge=0, le=100)
    rating: float = Field(4.0, ge=0, le=5)


class ApiKeyIn(BaseModel):
    name: str = Field(max_length=128)
    role: Literal["brand", "technician", "admin"]
    brand: str | None = None
    technician_id: str | None = None


class WebhookIn(BaseModel):
    url: HttpUrl
    brand: str | None = Field(None, description="admin only: omitted means every brand")
    events: list[str] = Field(default_factory=list, description="empty: every event type")
    secret: str | None = Field(None, min_length=16, description="omitted: generated")


# ---------------------------------------------------------------- dependencies


def _scope_dependency(ctx: ApiContext) -> Any:
    def scope(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Scope:
        token = credentials.credentials if credentials else None
        if token is None and ctx.admin_token is None:
            return OPEN_ACCESS  # no admin token configured: the gateway's API is open
        with ctx.service.sessions() as session:
            found = authenticate(session, token, ctx.admin_token)
        if found is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or invalid API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return found

    return scope


def _require(scope: Scope, *roles: Role) -> None:
    if scope.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"not allowed for a {scope.role} key")


# ---------------------------------------------------------------- routers


def service_routers(ctx: ApiContext) -> list[APIRouter]:
    """Every router of this package, ready for ``app.include_router``."""
    return [
        work_orders_router(ctx),
        dispatch_router(ctx),
        keys_router(ctx),
        webhooks_router(ctx),
    ]


def work_orders_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix=API, tags=["work orders"])
    Caller = Annotated[Scope, Depends(_scope_dependency(ctx))]  # noqa: N806
    service = ctx.service

    @router.get("/work-orders", summary="List work orders, newest first")
    def list_work_orders(
        *,
        scope: Caller,
        status_: Annotated[WorkOrderStatus | None, Query(alias="status")] = None,
        device_id: str | None = None,
        fault: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """`{"items": [WorkOrder...], "next": cursor-or-null}`; pass `next` back as `cursor`."""
        items, nxt = service.list_orders(
            scope,
            status=status_.value if status_ else None,
            device_id=device_id,
            fault=fault,
            limit=limit,
            cursor=cursor,
        )
        return {"items": items, "next": nxt}

    @router.get("/work-orders/{order_id}", summary="One work order")
    def get_work_order(order_id: str, scope: Caller) -> dict[str, Any]:
        try:
            return service.get(order_id, scope)
        except OrderNotFound:
            raise HTTPException(404, f"no work order {order_id}") from None

    @router.get("/work-orders/{order_id}/audit", summary="The order's audit trail")
    def get_audit(order_id: str, scope: Caller) -> list[dict[str, Any]]:
        try:
            return service.audit(order_id, scope)
        except OrderNotFound:
            raise HTTPException(404, f"no work order {order_id}") from None

    @router.post(
        "/work-orders/{order_id}/transitions",
        summary="Move an order along the service flow",
        responses={409: {"description": "illegal transition; `detail` says why"}},
    )
    def transition(order_id: str, body: TransitionIn, scope: Caller) -> dict[str, Any]:
        if scope.role is Role.TECHNICIAN and body.to not in TECHNICIAN_MOVES:
            # still 404 for someone else's order, so scoping leaks nothing
            try:
                service.get(order_id, scope)
            except OrderNotFound:
                raise HTTPException(404, f"no work order {order_id}") from None
            raise HTTPException(403, f"a technician cannot move an order to {body.to.value!r}")
        try:
            return service.transition(
                order_id,
                body.to.value,
                actor=scope.actor,
                scope=scope,
                technician_id=body.technician_id,
                scheduled_for=body.scheduled_for,
                root_cause=body.root_cause,
                parts_used=body.parts_used,
                notes=body.notes,
            )
        except OrderNotFound:
            raise HTTPException(404, f"no work order {order_id}") from None
        except IllegalTransition as err:
            raise HTTPException(409, str(err)) from None
        except InvalidRequest as err:
            raise HTTPException(422, str(err)) from None

    @router.get("/sla/breaches", summary="Orders past their SLA deadline, still not fixed")
    def sla_breaches(scope: Caller) -> dict[str, Any]:
        return {"items": service.sla_breaches(scope)}

    return router


def dispatch_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix=API, tags=["dispatch"])
    Caller = Annotated[Scope, Depends(_scope_dependency(ctx))]  # noqa: N806
    sessions = ctx.service.sessions

    @router.get("/providers", summary="Service providers")
    def list_providers(scope: Caller) -> list[dict[str, Any]]:
        _require(scope, Role.ADMIN, Role.BRAND)
        with sessions() as session:
            return [_provider(p) for p in session.scalars(select(ProviderRow))]

    @router.post("/providers", status_code=201, summary="Add a service provider")
    def add_provider(body: ProviderIn, scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN)
        with sessions.begin() as session:
            row = ProviderRow(id=new_id("sp"), created_wall_at=utcnow(), **body.model_dump())
            session.add(row)
            session.flush()
            return _provider(row)

    @router.get("/technicians", summary="Technicians with their current load")
    def list_technicians(scope: Caller) -> list[dict[str, Any]]:
        _require(scope, Role.ADMIN, Role.BRAND)
        with sessions() as session:
            loads = {c.technician_id: c.load for c in ctx.service.candidates(session)}
            return [
                _technician(t, loads.get(t.id, 0)) for t in session.scalars(select(TechnicianRow))
            ]

    @router.post("/technicians", status_code=201, summary="Add a technician")
    def add_technician(body: TechnicianIn, scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN)
        with sessions.begin() as session:
            if body.provider_id and session.get(ProviderRow, body.provider_id) is None:
                raise HTTPException(422, f"no provider {body.provider_id}")
            row = TechnicianRow(
                id=new_id("tech"), created_wall_at=utcnow(), active=True, **body.model_dump()
            )
            session.add(row)
            session.flush()
            return _technician(row, 0)

    return router


def device_scope(ctx: ApiContext) -> Any:
    """For ``gateway.api.app.create_app(device_scope=...)``: the gateway's own device and
    dead-letter routes then accept our keys. Returns None (admin: every device) or the
    caller's brand; technician keys get 403 there (they work through their orders)."""
    scope_of = _scope_dependency(ctx)

    def brand_scope(scope: Annotated[Scope, Depends(scope_of)]) -> str | None:
        if scope.role is Role.ADMIN:
            return None
        if scope.role is Role.BRAND:
            return scope.brand
        raise HTTPException(status.HTTP_403_FORBIDDEN, "technician keys see orders, not devices")

    return brand_scope


def keys_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix=API, tags=["api keys"])
    Caller = Annotated[Scope, Depends(_scope_dependency(ctx))]  # noqa: N806
    sessions = ctx.service.sessions

    @router.post("/api-keys", status_code=201, summary="Make a key (the token is shown once)")
    def add_key(body: ApiKeyIn, scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN)
        with sessions.begin() as session:
            if body.role == "technician" and session.get(TechnicianRow, body.technician_id) is None:
                raise HTTPException(422, f"no technician {body.technician_id}")
            try:
                row, token = create_key(
                    session,
                    role=Role(body.role),
                    name=body.name,
                    brand=body.brand,
                    technician_id=body.technician_id,
                )
            except ValueError as err:
                raise HTTPException(422, str(err)) from None
            session.flush()
            return {**_key(row), "token": token}

    @router.get("/api-keys", summary="Keys (never their secrets)")
    def list_keys(scope: Caller) -> list[dict[str, Any]]:
        _require(scope, Role.ADMIN)
        with sessions() as session:
            return [_key(k) for k in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]

    @router.delete("/api-keys/{key_id}", summary="Revoke a key")
    def revoke_key(key_id: str, scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN)
        with sessions.begin() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise HTTPException(404, f"no key {key_id}")
            row.revoked_wall_at = row.revoked_wall_at or utcnow()
            return _key(row)

    return router


def webhooks_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix=API, tags=["webhooks"])
    Caller = Annotated[Scope, Depends(_scope_dependency(ctx))]  # noqa: N806
    sessions = ctx.service.sessions

    def own(scope: Scope, sub: WebhookSubscriptionRow | None) -> WebhookSubscriptionRow:
        if sub is None or (scope.role is Role.BRAND and sub.brand != scope.brand):
            raise HTTPException(404, "no such webhook")
        return sub

    @router.post("/webhooks", status_code=201, summary="Subscribe (the secret is shown once)")
    def subscribe(body: WebhookIn, scope: Caller) -> dict[str, Any]:
        """Events: `work_order.opened`, `.updated`, `.status_changed`, `.reopened`,
        `.sla_breached`. Each POST body is `{"id", "type", "created_at", "data": WorkOrder}`
        with headers `Housecall-Event`, `Housecall-Delivery` (stable across retries) and
        `Housecall-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
        Answer 2xx; anything else (or no answer) is retried with exponential backoff and
        logged under `GET /webhooks/{id}/deliveries`."""
        _require(scope, Role.ADMIN, Role.BRAND)
        brand = scope.brand if scope.role is Role.BRAND else body.brand
        secret = body.secret or secrets.token_urlsafe(32)
        with sessions.begin() as session:
            row = WebhookSubscriptionRow(
                id=new_id("wh"),
                brand=brand,
                url=str(body.url),
                secret=secret,
                events=body.events,
                active=True,
                created_wall_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return {**_subscription(row), "secret": secret}

    @router.get("/webhooks", summary="Subscriptions")
    def list_subscriptions(scope: Caller) -> list[dict[str, Any]]:
        _require(scope, Role.ADMIN, Role.BRAND)
        query = select(WebhookSubscriptionRow).order_by(WebhookSubscriptionRow.id)
        if scope.role is Role.BRAND:
            query = query.where(WebhookSubscriptionRow.brand == scope.brand)
        with sessions() as session:
            return [_subscription(s) for s in session.scalars(query)]

    @router.delete("/webhooks/{webhook_id}", summary="Unsubscribe")
    def unsubscribe(webhook_id: str, scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN, Role.BRAND)
        with sessions.begin() as session:
            sub = own(scope, session.get(WebhookSubscriptionRow, webhook_id))
            sub.active = False
            return _subscription(sub)

    @router.get("/webhooks/{webhook_id}/deliveries", summary="The delivery log")
    def deliveries(
        webhook_id: str, scope: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        _require(scope, Role.ADMIN, Role.BRAND)
        with sessions() as session:
            own(scope, session.get(WebhookSubscriptionRow, webhook_id))
            rows = session.scalars(
                select(WebhookOutboxRow)
                .where(WebhookOutboxRow.subscription_id == webhook_id)
                .order_by(WebhookOutboxRow.id.desc())
                .limit(limit)
            ).all()
            out = []
            for row in rows:
                attempts = session.scalars(
                    select(WebhookAttemptRow)
                    .where(WebhookAttemptRow.outbox_id == row.id)
                    .order_by(WebhookAttemptRow.id)
                ).all()
                out.append(_delivery(row, attempts))
            return out

    @router.post("/webhooks/deliveries/{delivery_id}/redeliver", summary="Send again")
    def redeliver(delivery_id: str, scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN, Role.BRAND)
        with sessions.begin() as session:
            row = session.scalars(
                select(WebhookOutboxRow).where(WebhookOutboxRow.event_id == delivery_id)
            ).first()
            if row is None:
                raise HTTPException(404, "no such delivery")
            own(scope, session.get(WebhookSubscriptionRow, row.subscription_id))
            row.status, row.next_attempt_wall_at, row.claimed_until_wall_at = (
                "pending",
                utcnow(),
                None,
            )
            return _delivery(row, [])

    return router


# ---------------------------------------------------------------- shapes


def _provider(p: ProviderRow) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "skills": p.skills,
        "regions": p.regions,
        "rating": p.rating,
    }


def _technician(t: TechnicianRow, load: int) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "provider_id": t.provider_id,
        "skills": t.skills,
        "regions": t.regions,
        "daily_capacity": t.daily_capacity,
        "rating": t.rating,
        "active": t.active,
        "load": load,
    }


def _key(k: ApiKeyRow) -> dict[str, Any]:
    return {
        "id": k.id,
        "name": k.name,
        "role": k.role,
        "brand": k.brand,
        "technician_id": k.technician_id,
        "created_at": iso(k.created_wall_at),
        "revoked_at": iso(k.revoked_wall_at),
    }


def _subscription(s: WebhookSubscriptionRow) -> dict[str, Any]:
    return {
        "id": s.id,
        "brand": s.brand,
        "url": s.url,
        "events": s.events,
        "active": s.active,
        "created_at": iso(s.created_wall_at),
    }


def _delivery(row: WebhookOutboxRow, attempts: Any) -> dict[str, Any]:
    return {
        "id": row.event_id,
        "event_type": row.event_type,
        "order_id": row.order_id,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_wall_at),
        "delivered_at": iso(row.delivered_wall_at),
        "last_error": row.last_error,
        "log": [
            {
                "attempt": a.attempt,
                "at": iso(a.wall_at),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": round(a.duration_ms, 1),
            }
            for a in attempts
        ],
    }
