"""Session-wide real servers, and factories for tests that need their own to kill.

- ``mosquitto`` / ``victoria_metrics`` / ``postgres``: one shared instance per test
  session (and per xdist worker), started on a free loopback port.
- ``mosquitto_factory`` / ``victoria_metrics_factory``: private instances for tests
  that stop, kill or restart a server; stopped at the end of the test.
- ``postgres_url``: a fresh, empty database on the session cluster.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import Mosquitto, Postgres, VictoriaMetrics, scratch_dir


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Mosquitto]:
    workdir = scratch_dir("mosquitto")
    server = Mosquitto(workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def victoria_metrics() -> Iterator[VictoriaMetrics]:
    workdir = scratch_dir("vm")
    server = VictoriaMetrics(workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    workdir = scratch_dir("pg")
    server = Postgres(workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres: Postgres) -> str:
    return postgres.create_database()


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    started: list[Mosquitto] = []

    def start(**options: Any) -> Mosquitto:
        server = Mosquitto(tmp_path / f"mosquitto-{len(started)}", **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def victoria_metrics_factory(tmp_path: Path) -> Iterator[Callable[..., VictoriaMetrics]]:
    started: list[VictoriaMetrics] = []

    def start(**options: Any) -> VictoriaMetrics:
        server = VictoriaMetrics(tmp_path / f"vm-{len(started)}", **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
