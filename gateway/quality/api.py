"""REST routes of service quality (``/api/v1``): scorecards, bills, ratings, history, files.

Mounted beside the work-order routers (same keys, same scoping: an order outside the
caller's scope is a 404). Errors: 401/403 as there; 404 unknown order/device/provider;
409 not in a status where it makes sense (billing an order nobody has visited); 422 bad
input with the reason (an unknown part number, a rating out of 1..5, a bad file with
its line).

(No ``from __future__ import annotations``: FastAPI reads the signatures at runtime.)
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from gateway.quality.providers import Roster
from gateway.quality.service import InvalidInput, QualityService, WrongState
from gateway.workorders.api import API, ApiContext, _require, _scope_dependency
from gateway.workorders.keys import Role, Scope
from gateway.workorders.service import OrderNotFound
from gateway.workorders.tables import ProviderRow


class BillPart(BaseModel):
    part_number: str = Field(max_length=64)
    quantity: int = Field(1, ge=1, le=1000)
    unit_price: float | None = Field(None, ge=0, description="omitted: the list price")


class BillIn(BaseModel):
    labour: float = Field(ge=0, le=1e7, description="labour charged (call-out is added)")
    parts: list[BillPart] = Field(default_factory=list)
    notes: str | None = Field(None, max_length=4000)


class RatingIn(BaseModel):
    stars: int = Field(ge=1, le=5, description="the customer's rating, 1 to 5")
    comment: str | None = Field(None, max_length=2000)


class RosterIn(Roster):
    """The roster itself (``providers.toml``'s schema, as JSON), never a server path.

    The route once took a path and read whatever file on the gateway's disk it named;
    a body that still sends one is refused with that one reason, before anything else.
    """

    @model_validator(mode="before")
    @classmethod
    def _no_server_paths(cls, data: Any) -> Any:
        if isinstance(data, dict) and "path" in data:
            raise ValueError(
                "the API does not read files on the gateway's disk: send the roster "
                'itself, {"providers": [...]} as in providers.toml'
            )
        return data


def shown_to(scope: Scope) -> Callable[[dict[str, Any]], bool]:
    """Which scorecard contradictions a caller may read: those of orders in its tenancy.

    A contradiction names an order and its root cause, so it is scoped as orders are
    (:func:`gateway.workorders.queries.visible`): an admin sees all, a brand its own
    brand's orders, a technician their own visits. The rates stay whole for everyone.
    """
    if scope.role is Role.ADMIN:
        return lambda _example: True
    if scope.role is Role.BRAND:
        brand = scope.brand  # never None for a brand key; an unbranded order is nobody's
        return lambda example: brand is not None and example.get("brand") == brand
    return lambda example: example.get("technician_id") == scope.technician_id


def quality_routers(ctx: ApiContext, quality: QualityService) -> list[APIRouter]:
    router = APIRouter(prefix=API, tags=["service quality"])
    Caller = Annotated[Scope, Depends(_scope_dependency(ctx))]  # noqa: N806

    def card_period(
        since: datetime | None, until: datetime | None
    ) -> tuple[datetime | None, datetime | None]:
        if since is not None and until is not None and since >= until:
            raise HTTPException(422, "since must be before until")
        return since, until

    @router.get("/scorecards", summary="Every provider's and technician's scorecard, best first")
    def scorecards(
        scope: Caller, since: AwareDatetime | None = None, until: AwareDatetime | None = None
    ) -> dict[str, Any]:
        _require(scope, Role.ADMIN, Role.BRAND)
        return quality.scorecards(*card_period(since, until)).as_json(shown_to(scope))

    @router.get("/providers/{provider_id}/scorecard", summary="One provider's scorecard")
    def provider_scorecard(
        provider_id: str,
        scope: Caller,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
    ) -> dict[str, Any]:
        _require(scope, Role.ADMIN, Role.BRAND)
        report = quality.scorecards(*card_period(since, until))
        shows = shown_to(scope)
        for rank, card in enumerate(report.providers, start=1):
            if card.subject == provider_id:
                techs = [
                    t.as_json(shows) for t in report.technicians if t.provider_id == provider_id
                ]
                return {
                    **card.as_json(shows),
                    "rank": rank,
                    "of": len(report.providers),
                    "since": report.since.isoformat(),
                    "until": report.until.isoformat(),
                    "technicians": techs,
                }
        with quality.sessions() as session:
            if session.get(ProviderRow, provider_id) is None:
                raise HTTPException(404, f"no provider {provider_id}")
        return {"id": provider_id, "visits": 0, "score": None, "rank": None}

    @router.get("/technicians/{technician_id}/scorecard", summary="One technician's scorecard")
    def technician_scorecard(
        technician_id: str,
        scope: Caller,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
    ) -> dict[str, Any]:
        if scope.role is Role.TECHNICIAN and scope.technician_id != technician_id:
            raise HTTPException(404, f"no technician {technician_id}")
        report = quality.scorecards(*card_period(since, until))
        for card in report.technicians:
            if card.subject == technician_id:
                return card.as_json(shown_to(scope))
        raise HTTPException(404, f"no visits by technician {technician_id} in the period")

    @router.get("/work-orders/{order_id}/quality", summary="Expected cost, warranty, bills")
    def order_quality(order_id: str, scope: Caller) -> dict[str, Any]:
        try:
            return quality.order_quality(order_id, scope)
        except OrderNotFound:
            raise HTTPException(404, f"no work order {order_id}") from None

    @router.post(
        "/work-orders/{order_id}/bill",
        status_code=201,
        summary="The technician's final bill, checked against the brand's price list",
    )
    def bill(order_id: str, body: BillIn, scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN, Role.TECHNICIAN)
        prices = {p.part_number: p.unit_price for p in body.parts if p.unit_price is not None}
        try:
            return quality.bill(
                order_id,
                labour=body.labour,
                parts=[(p.part_number, p.quantity) for p in body.parts],
                unit_prices=prices,
                scope=scope,
                notes=body.notes,
            )
        except OrderNotFound:
            raise HTTPException(404, f"no work order {order_id}") from None
        except WrongState as err:
            raise HTTPException(409, str(err)) from None
        except InvalidInput as err:
            raise HTTPException(422, str(err)) from None

    @router.post("/work-orders/{order_id}/rating", status_code=201, summary="Rate the visit")
    def rate(order_id: str, body: RatingIn, scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN, Role.BRAND)
        try:
            return quality.rate(order_id, body.stars, comment=body.comment, scope=scope)
        except OrderNotFound:
            raise HTTPException(404, f"no work order {order_id}") from None
        except WrongState as err:
            raise HTTPException(409, str(err)) from None
        except InvalidInput as err:
            raise HTTPException(422, str(err)) from None

    @router.get("/bills", summary="Bills, newest first (flagged=true: over the expected range)")
    def bills(scope: Caller, flagged: bool | None = None) -> dict[str, Any]:
        return {"items": quality.bills(scope, flagged=flagged)}

    @router.get("/devices/{device_id}/history", summary="The device's service history chain")
    def device_history(
        device_id: str, scope: Caller, limit: Annotated[int, Query(ge=1, le=10000)] = 1000
    ) -> dict[str, Any]:
        if not quality.device_visible(device_id, scope):
            raise HTTPException(404, f"no device {device_id!r}")
        items = quality.history(device_id)
        return {"items": items[-limit:], "verification": quality.verify(device_id).as_json()}

    @router.get(
        "/devices/{device_id}/history/verify",
        summary="Verify the device's hash chain; names the first broken link",
    )
    def verify_history(device_id: str, scope: Caller) -> dict[str, Any]:
        if not quality.device_visible(device_id, scope):
            raise HTTPException(404, f"no device {device_id!r}")
        return quality.verify(device_id).as_json()

    @router.post("/quality/reload", summary="Reload price list, warranty and scorecard files")
    def reload(scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN)
        errors = quality.reload()
        if any(errors.values()):
            raise HTTPException(
                422, {"errors": {k: v for k, v in errors.items() if v}, "kept": "previous file"}
            )
        return {"reloaded": sorted(errors)}

    @router.post(
        "/quality/roster",
        summary="Load providers, technicians and badges from the body (all or nothing)",
    )
    def roster(body: RosterIn, scope: Caller) -> dict[str, Any]:
        _require(scope, Role.ADMIN)
        try:
            return quality.apply_roster(body)
        except InvalidInput as err:
            raise HTTPException(422, str(err)) from None

    return [router]
