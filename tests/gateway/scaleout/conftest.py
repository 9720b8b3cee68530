"""A private RabbitMQ node for the scale-out transport tests (see tests/rabbitmq_server.py).

- ``rabbitmq``: one node per test session (and xdist worker);
- ``rabbitmq_factory``: a node of the test's own, for tests that stop or kill it;
- ``topology``: fresh exchange and queue names on the session node for each test,
  so tests never see each other's messages.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.scaleout import Topology
from tests.rabbitmq_server import RabbitMQ

_names = itertools.count()


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQ]:
    workdir = Path(tempfile.mkdtemp(prefix="housecall-rabbitmq-"))
    node = RabbitMQ(workdir)
    try:
        node.start()
        yield node
    finally:
        node.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def rabbitmq_factory(tmp_path: Path) -> Iterator[Callable[[], RabbitMQ]]:
    started: list[RabbitMQ] = []

    def start() -> RabbitMQ:
        node = RabbitMQ(tmp_path / f"rabbitmq-{len(started)}")
        started.append(node)
        return node.start()

    yield start
    for node in started:
        node.kill()
        node.close()


@pytest.fixture
def topology() -> Topology:
    return Topology(partitions=8, prefix=f"test{os.getpid()}-{next(_names)}")
