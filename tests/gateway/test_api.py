"""The HTTP API of the gateway (``create_app``) through a real ASGI client, on both SQL stores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, HTTPException
from sqlalchemy import Engine

from gateway.api.app import ApiState, create_app
from gateway.db import make_engine
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Pipeline, RawMessage
from gateway.storage import BatchStorage
from gateway.timeseries.embedded import recent_samples
from tests.gateway.helpers import birth, raw, serve, telemetry


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pipeline(engine: Engine) -> Pipeline:
    pipeline = Pipeline(BatchStorage(engine, gateway_id="gw-api"), metrics=GatewayMetrics())
    pipeline.open()
    pipeline.process(
        [
            raw(birth("ac-1", brand="Aurora")),
            raw(birth("wm-1", kind="washer", model="WM-9", brand="Borealis")),
            *(raw(telemetry("ac-1", seq)) for seq in range(5)),
            RawMessage("appliances/ac-1/telemetry", b"not json"),
            RawMessage("appliances/ac-1/telemetry", b'{"schema": "x"}'),
        ]
    )
    return pipeline


def make_state(engine: Engine, pipeline: Pipeline, ready: bool = True) -> ApiState:
    def recent(device_id: str, limit: int) -> list[dict[str, Any]]:
        with engine.connect() as connection:
            return recent_samples(connection, device_id, limit=limit)

    return ApiState(engine=engine, metrics=pipeline.metrics, recent=recent, ready=lambda: ready)


def test_healthz_answers_503_until_subscribed_then_200(engine: Engine, pipeline: Pipeline) -> None:
    with serve(create_app(make_state(engine, pipeline, False))) as client:
        assert client.get("/healthz").status_code == 503
    with serve(create_app(make_state(engine, pipeline))) as client:
        assert client.get("/healthz").status_code == 200


def test_metrics_are_prometheus_text_with_the_contract_names(
    engine: Engine, pipeline: Pipeline
) -> None:
    with serve(create_app(make_state(engine, pipeline))) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "housecall_telemetry_messages_total 5.0" in response.text
    assert 'housecall_dead_letters_total{reason="not_json"} 1.0' in response.text
    assert 'housecall_dead_letters_total{reason="unknown_schema"} 1.0' in response.text
    assert "housecall_processing_latency_seconds_bucket" in response.text


def test_devices_list_filters_pages_and_shows_one_with_recent_telemetry(
    engine: Engine, pipeline: Pipeline
) -> None:
    with serve(create_app(make_state(engine, pipeline))) as client:
        page = client.get("/api/v1/devices", params={"limit": 1}).json()
        assert [d["device_id"] for d in page["items"]] == ["ac-1"]
        assert page["next"] == "ac-1"
        rest = client.get("/api/v1/devices", params={"cursor": page["next"]}).json()
        assert [d["device_id"] for d in rest["items"]] == ["wm-1"]
        assert rest["next"] is None
        washers = client.get("/api/v1/devices", params={"kind": "washer"}).json()["items"]
        assert [d["device_id"] for d in washers] == ["wm-1"]
        device = client.get("/api/v1/devices/ac-1", params={"samples": 3}).json()
        assert device["model"] == "AUR-S35-INV"
        assert device["telemetry_messages"] == 5
        assert [s["seq"] for s in device["recent_telemetry"]] == [4, 3, 2]
        assert device["recent_telemetry"][0]["values"]["mode"] == "cool"
        assert device["recent_telemetry"][0]["ts"].endswith("+00:00")
        assert client.get("/api/v1/devices/nope").status_code == 404


def test_dead_letters_are_listed_newest_first_with_counts_and_paging(
    engine: Engine, pipeline: Pipeline
) -> None:
    with serve(create_app(make_state(engine, pipeline))) as client:
        body = client.get("/api/v1/dead-letters", params={"limit": 1}).json()
        assert [item["reason"] for item in body["items"]] == ["unknown_schema"]
        assert body["counts"] == {"not_json": 1, "unknown_schema": 1}
        older = client.get("/api/v1/dead-letters", params={"before": body["next"]}).json()
        assert [item["payload_text"] for item in older["items"]] == ["not json"]
        only = client.get("/api/v1/dead-letters", params={"reason": "not_json"}).json()
        assert len(only["items"]) == 1


def test_admin_token_guards_api_v1_but_not_health_or_metrics(
    engine: Engine, pipeline: Pipeline
) -> None:
    with serve(create_app(make_state(engine, pipeline), admin_token="s3cret-token")) as client:
        assert client.get("/api/v1/devices").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.get("/api/v1/dead-letters", headers=wrong).status_code == 401
        right = {"Authorization": "Bearer s3cret-token"}
        assert client.get("/api/v1/devices", headers=right).status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_a_device_scope_hook_limits_a_brand_and_extra_routers_are_mounted(
    engine: Engine, pipeline: Pipeline
) -> None:
    def brand_from_header(x_brand: str | None = None) -> str | None:
        if x_brand == "forbidden":
            raise HTTPException(403, "no")
        return x_brand

    extra = APIRouter(prefix="/api/v1")

    @extra.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "work orders"}

    with serve(
        create_app(make_state(engine, pipeline), routers=[extra], device_scope=brand_from_header)
    ) as client:
        items = client.get("/api/v1/devices", params={"x_brand": "Borealis"}).json()["items"]
        assert [d["device_id"] for d in items] == ["wm-1"]
        assert client.get("/api/v1/devices/ac-1", params={"x_brand": "Borealis"}).status_code == 404
        assert client.get("/api/v1/dead-letters", params={"x_brand": "Borealis"}).status_code == 403
        assert client.get("/api/v1/devices", params={"x_brand": "forbidden"}).status_code == 403
        assert client.get("/api/v1/hello").json() == {"hello": "work orders"}
