"""Webhooks to a real local HTTP receiver that is down for a while: signed, retried, logged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from gateway.workorders.ids import utcnow
from gateway.workorders.tables import WebhookSubscriptionRow
from gateway.workorders.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    Backoff,
    WebhookDispatcher,
    verify_signature,
)
from tests.gateway.workorders.helpers import add_device, finding, make_service
from tests.gateway.workorders.http_helpers import ADMIN_TOKEN, build_app, free_port, serve

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Receiver:
    """A brand's field-service endpoint: stdlib http.server, verifies every signature."""

    def __init__(self, port: int, secret: str) -> None:
        self.port, self.secret = port, secret
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if verify_signature(body, self.headers[SIGNATURE_HEADER], receiver.secret):
                    receiver.received.append(
                        {
                            "event": self.headers[EVENT_HEADER],
                            "delivery": self.headers[DELIVERY_HEADER],
                            "body": orjson.loads(body),
                        }
                    )
                    self.send_response(204)
                else:
                    receiver.bad_signatures += 1
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_for(predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.mark.slow
def test_receiver_outage_loses_no_event_and_every_body_is_signed(engine: Engine) -> None:
    add_device(engine, "ac-1", brand="Aurora")
    add_device(engine, "ac-2", brand="Other")
    service, _ = make_service(engine, auto_assign=False)
    port = free_port()
    dispatcher = WebhookDispatcher(
        service.sessions, backoff=Backoff(base_s=0.2, cap_s=0.5, jitter=0.0), timeout_s=2.0
    )
    with serve(build_app(service)) as url, httpx.Client(base_url=url) as api:
        sub = api.post(
            "/api/v1/webhooks",
            json={"url": f"http://127.0.0.1:{port}/hooks", "brand": "Aurora"},
            headers=ADMIN,
        ).json()
        dispatcher.start(poll_s=0.05)
        try:
            order_id = service.on_finding(finding("ac-1")).order_id
            service.on_finding(finding("ac-2"))  # another brand: not sent to Aurora
            service.transition(order_id or "", "cancelled", actor="brand:Aurora")

            def failed_attempts() -> int:
                log = api.get(f"/api/v1/webhooks/{sub['id']}/deliveries", headers=ADMIN).json()
                return sum(len(d["log"]) for d in log)

            wait_for(lambda: failed_attempts() >= 4)  # the receiver is down: retries pile up
            with Receiver(port, sub["secret"]) as receiver:
                wait_for(lambda: len(receiver.received) == 2)
                time.sleep(0.3)  # nothing more arrives
            assert receiver.bad_signatures == 0
            assert [r["event"] for r in receiver.received] == [
                "work_order.opened",
                "work_order.status_changed",
            ]
            assert {r["body"]["data"]["id"] for r in receiver.received} == {order_id}
            assert receiver.received[1]["body"]["data"]["status"] == "cancelled"
            assert receiver.received[0]["delivery"] == receiver.received[0]["body"]["id"]
            log = api.get(f"/api/v1/webhooks/{sub['id']}/deliveries", headers=ADMIN).json()
            assert all(d["status"] == "delivered" for d in log)
            first = next(d for d in log if d["event_type"] == "work_order.opened")
            assert first["attempts"] >= 2
            assert first["log"][0]["status_code"] is None
            assert "ConnectError" in first["log"][0]["error"]
            assert first["log"][-1]["status_code"] == 204
        finally:
            dispatcher.stop()


def test_wrong_secret_is_rejected_by_the_receiver_and_retried(engine: Engine) -> None:
    service, _ = make_service(engine, auto_assign=False)
    port = free_port()
    with serve(build_app(service)) as url, httpx.Client(base_url=url) as api:
        api.post(
            "/api/v1/webhooks",
            json={"url": f"http://127.0.0.1:{port}/", "secret": "s" * 32},
            headers=ADMIN,
        )
    service.on_finding(finding("ac-1"))
    dispatcher = WebhookDispatcher(service.sessions, backoff=Backoff(base_s=0.01, jitter=0.0))
    with Receiver(port, "not-the-secret-at-all") as receiver:
        assert dispatcher.deliver_due() == 0
        assert receiver.bad_signatures == 1
    assert dispatcher.failed_attempts == 1
    with Receiver(port, "s" * 32) as receiver:
        time.sleep(0.05)
        assert dispatcher.deliver_due() == 1
        assert len(receiver.received) == 1


def test_events_reach_a_subscriber_in_order_even_after_failures(engine: Engine) -> None:
    service, _ = make_service(engine, auto_assign=False)
    with service.sessions.begin() as s:
        s.add(
            WebhookSubscriptionRow(
                id="wh_1",
                brand=None,
                url="http://receiver/",
                secret="x" * 32,
                events=[],
                active=True,
                created_wall_at=utcnow(),
            )
        )
    order_id = service.on_finding(finding("ac-1")).order_id or ""
    service.transition(order_id, "cancelled", actor="admin")
    service.on_finding(finding("ac-2"))
    received: list[str] = []
    answers = iter([500, 204, 204, 204])  # the first try of the first event fails

    def send(url: str, body: bytes, headers: Any, timeout_s: float) -> int:
        status = next(answers)
        if status == 204:
            received.append(
                orjson.loads(body)["type"] + ":" + orjson.loads(body)["data"]["device_id"]
            )
        return status

    dispatcher = WebhookDispatcher(
        service.sessions, sender=send, backoff=Backoff(base_s=0.0, jitter=0.0)
    )
    assert dispatcher.deliver_due() == 0  # the head failed: the later two wait behind it
    assert dispatcher.deliver_due() == 3
    assert received == [
        "work_order.opened:ac-1",
        "work_order.status_changed:ac-1",
        "work_order.opened:ac-2",
    ]
