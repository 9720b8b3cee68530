"""Real HTTP servers for the API tests: the FastAPI app under uvicorn on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from gateway.api.app import ApiState, create_app
from gateway.metrics import GatewayMetrics
from gateway.workorders.api import ApiContext, device_scope, service_routers
from gateway.workorders.service import WorkOrderService

ADMIN_TOKEN = "admin-test-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_app(service: WorkOrderService, admin_token: str | None = ADMIN_TOKEN) -> FastAPI:
    """The gateway's own app with the service loop's routers and key scoping plugged in."""
    ctx = ApiContext(service, admin_token)
    engine = service.sessions.kw["bind"]
    state = ApiState(engine=engine, metrics=GatewayMetrics(), recent=lambda _d, _n: [])
    return create_app(
        state, routers=service_routers(ctx), device_scope=device_scope(ctx), admin_token=admin_token
    )


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
