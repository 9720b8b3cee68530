"""Real servers for tests and benchmarks: Mosquitto, victoria-metrics, PostgreSQL.

Each server runs on a free loopback port in its own temporary directory and is
stopped by PID, so a test that kills its broker kills only its own. When a
binary is missing, the Debian package that provides it is installed (we run as
root on the project's machines; elsewhere the error says what to install).

The classes are plain Python so benchmarks can start the same servers the tests
use; ``tests/conftest.py`` wraps them in pytest fixtures.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

LOOPBACK = "127.0.0.1"


class ServerError(RuntimeError):
    """A test server could not be installed or started."""


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to port 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def ensure_binary(binary: str, package: str, *, search: tuple[str, ...] = ()) -> str:
    """Path of ``binary``, installing Debian's ``package`` first when it is missing."""
    found = _find(binary, search)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ServerError(f"{binary} not found: install the Debian package {package!r}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        subprocess.run(command, check=True, env=env, capture_output=True, timeout=600)
    found = _find(binary, search)
    if not found:
        raise ServerError(f"installed {package!r} but {binary} is still missing")
    return found


def _find(binary: str, search: tuple[str, ...]) -> str | None:
    for folder in search:
        candidate = Path(folder) / binary
        if candidate.exists():
            return str(candidate)
    return shutil.which(binary)


def wait_for_port(
    port: int, timeout_s: float = 15.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerError(f"server exited with code {process.returncode} before listening")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerError(f"nothing listening on {LOOPBACK}:{port} after {timeout_s} s")


class _Process:
    """A server process we started, stopped by PID."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 20.0) -> None:
        """Stop the process (SIGTERM lets Mosquitto save its persistence file)."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout_s)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


class Mosquitto(_Process):
    """A Mosquitto 2 broker of our own; ``persistence=True`` keeps sessions across restarts."""

    def __init__(
        self,
        workdir: Path,
        *,
        persistence: bool = False,
        extra_config: str = "",
        port: int | None = None,
        anonymous: bool = True,
    ) -> None:
        super().__init__()
        self.binary = ensure_binary("mosquitto", "mosquitto", search=("/usr/sbin",))
        self.anonymous = anonymous
        self.workdir = workdir
        self.port = port or free_port()
        self.persistence = persistence
        self.extra_config = extra_config
        self.log_path = workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://{LOOPBACK}:{self.port}"

    def config(self) -> str:
        lines = [
            f"listener {self.port} {LOOPBACK}",
            f"allow_anonymous {str(self.anonymous).lower()}",
            # Floods in tests and benchmarks: never drop what a persistent session queued.
            "max_queued_messages 0",
            "max_queued_bytes 0",
            "max_inflight_messages 0",
            "persistent_client_expiration 1d",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            # Mosquitto started by root drops to the ``mosquitto`` user, which cannot write
            # the root-owned temporary folder: no log, no persistence file, sessions lost.
            lines.append("user root")
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.workdir}/",
                "autosave_interval 1",
            ]
        return "\n".join(lines) + "\n" + self.extra_config

    def start(self) -> Mosquitto:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config())
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, process=self.process)
        return self


class VictoriaMetrics(_Process):
    """Debian's victoria-metrics: speaks the InfluxDB v2 ``/api/v2/write`` line protocol."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        super().__init__()
        self.binary = ensure_binary("victoria-metrics", "victoria-metrics", search=("/usr/bin",))
        self.workdir = workdir
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> VictoriaMetrics:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "vm.log").open("ab") as log:
            self.process = self._spawn(log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"victoria-metrics exited with {self.process.returncode}")
            try:
                health = f"{self.url}/health"  # our own loopback server: http only
                with urllib.request.urlopen(health, timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise ServerError("victoria-metrics did not become healthy in 30 s")

    def _spawn(self, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                self.binary,
                f"-httpListenAddr={LOOPBACK}:{self.port}",
                f"-storageDataPath={self.workdir / 'data'}",
                "-retentionPeriod=100y",
                "-search.latencyOffset=1s",
                "-search.disableCache",
                "-loggerLevel=WARN",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as response:  # noqa: S310
            body: bytes = response.read()
            return body

    def force_flush(self) -> None:
        self._get("/internal/force_flush")

    def export(self, match: str = '{__name__=~".+"}') -> list[dict[str, Any]]:
        """Every series matching ``match`` with all its samples (flushes first)."""
        self.force_flush()
        query = urllib.parse.urlencode({"match[]": match})
        body = self._get(f"/api/v1/export?{query}")
        return [orjson.loads(line) for line in body.splitlines() if line.strip()]

    def sample_count(self, match: str = '{__name__=~".+"}') -> int:
        return sum(len(series["values"]) for series in self.export(match))


class Postgres(_Process):
    """A throwaway PostgreSQL cluster (initdb as the ``postgres`` user), trust auth on loopback."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        super().__init__()
        self.bindir = Path(ensure_binary("initdb", "postgresql", search=_postgres_bindirs())).parent
        self.workdir = workdir
        self.port = port or free_port()
        self.datadir = workdir / "data"
        self._databases = 0

    def _as_postgres(self, *command: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *command]
        return list(command)

    def start(self) -> Postgres:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        if not self.datadir.exists():
            subprocess.run(
                self._as_postgres(
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                ),
                check=True,
                capture_output=True,
                timeout=120,
            )
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses={LOOPBACK} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            self._as_postgres(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                options,
                "-l",
                str(self.workdir / "log"),
                "-w",
                "start",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
        self._pid = pid
        wait_for_port(self.port)
        return self

    @property
    def running(self) -> bool:
        return (self.datadir / "postmaster.pid").exists()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 20.0) -> None:
        if not self.running:
            return
        subprocess.run(
            self._as_postgres(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"
            ),
            check=False,
            capture_output=True,
            timeout=timeout_s + 40,
        )

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) for ``database``."""
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        with psycopg.connect(
            f"host={LOOPBACK} port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _postgres_bindirs() -> tuple[str, ...]:
    root = Path("/usr/lib/postgresql")
    if not root.exists():
        return ()
    versions = sorted((p for p in root.iterdir() if (p / "bin").exists()), key=lambda p: p.name)
    return tuple(str(p / "bin") for p in reversed(versions))


@contextmanager
def running(server: Mosquitto | VictoriaMetrics | Postgres) -> Iterator[Any]:
    """Start ``server`` for the duration of a ``with`` block."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def scratch_dir(prefix: str) -> Path:
    """A temporary directory any user can enter (PostgreSQL runs as ``postgres``)."""
    path = Path(tempfile.mkdtemp(prefix=f"housecall-{prefix}-"))
    path.chmod(0o755)
    return path
