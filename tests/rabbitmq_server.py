"""A private RabbitMQ node for tests and benchmarks (Debian's ``rabbitmq-server`` 3.10).

Everything the node touches is its own, so a test that stops or kills it never
disturbs the machine's RabbitMQ (which listens on 127.0.0.1:5672) or another
test session:

- node name ``housecall-test-<pid>-<n>@localhost``;
- free loopback ports for AMQP, Erlang distribution and a private ``epmd``
  (``ERL_EPMD_PORT``): the node registers with our epmd, not the system's, and
  no epmd daemon outlives the session;
- ``HOME`` is the node's temporary folder, so the Erlang cookie (created on
  first boot) and every ``RABBITMQ_*`` file — config, enabled plugins, mnesia
  and quorum data, logs, an empty env file instead of
  ``/etc/rabbitmq/rabbitmq-env.conf`` — live there;
- the real start script (``/usr/lib/rabbitmq/bin/rabbitmq-server``) runs as the
  calling user: Debian's wrapper in ``/usr/sbin`` would ``su`` to the
  ``rabbitmq`` user, who cannot write our folder. ``RUNNING_UNDER_SYSTEMD``
  makes the script ``exec`` the Erlang VM, so the PID we hold is the node's.

The node is ready when an AMQP handshake succeeds. It is stopped with
``rabbitmqctl -n NODE stop`` and then by PID. Nothing is installed here: when
the package is missing the error says so (``./run test`` installs it).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pika
import pika.exceptions

LOOPBACK = "127.0.0.1"
DEFAULT_PLUGINS = ("rabbitmq_consistent_hash_exchange",)
_SCRIPT_DIRS = ("/usr/lib/rabbitmq/bin",)
_nodes = itertools.count()


class RabbitMQError(RuntimeError):
    """The private RabbitMQ node could not be found, started or stopped."""


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to port 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def rabbitmq_script(name: str) -> str:
    """Path of the real RabbitMQ script ``name`` (not Debian's ``su`` wrapper)."""
    for folder in _SCRIPT_DIRS:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found and "/usr/sbin/" not in found:
        return found
    raise RabbitMQError(
        f"{name} not found: install the Debian package 'rabbitmq-server' "
        "(./run test and ./run setup --servers install it)"
    )


def _epmd_binary() -> str:
    found = shutil.which("epmd")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/erlang").glob("erts-*/bin/epmd"))
    if candidates:
        return str(candidates[-1])
    raise RabbitMQError("epmd not found: install the Debian package 'rabbitmq-server'")


class RabbitMQ:
    """One private RabbitMQ node in ``workdir``; survives :meth:`stop`/:meth:`start` cycles."""

    def __init__(self, workdir: Path, *, plugins: tuple[str, ...] = DEFAULT_PLUGINS) -> None:
        self.server_script = rabbitmq_script("rabbitmq-server")
        self.ctl_script = rabbitmq_script("rabbitmqctl")
        self.workdir = workdir
        self.plugins = plugins
        self.node = f"housecall-test-{os.getpid()}-{next(_nodes)}@localhost"
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None
        #: Seconds the last :meth:`start` took until an AMQP handshake succeeded.
        self.startup_s: float | None = None

    @property
    def url(self) -> str:
        """AMQP URL of the node (the default ``guest`` user, allowed from loopback)."""
        return f"amqp://guest:guest@{LOOPBACK}:{self.amqp_port}/%2F"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def log_path(self) -> Path:
        return self.workdir / "log" / f"{self.node}.log"

    def environment(self) -> dict[str, str]:
        """What both the server and ``rabbitmqctl`` need to find this node and only it."""
        work = self.workdir
        return {
            **os.environ,
            "HOME": str(work),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(work / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(work / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(work / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(work / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(work / "mnesia"),
            "RABBITMQ_LOG_BASE": str(work / "log"),
            "RABBITMQ_PID_FILE": str(work / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RUNNING_UNDER_SYSTEMD": "true",
        }

    def _write_config(self) -> None:
        work = self.workdir
        for folder in (work, work / "mnesia", work / "log"):
            folder.mkdir(parents=True, exist_ok=True)
        (work / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.1 = {LOOPBACK}:{self.amqp_port}",
                    "loopback_users = none",
                    "log.console = false",
                    "log.file.level = info",
                    # A busy test machine can have little disk left; tests store little.
                    "disk_free_limit.absolute = 1MB",
                ]
            )
            + "\n"
        )
        (work / "enabled_plugins").write_text(f"[{','.join(self.plugins)}].\n")
        (work / "rabbitmq-env.conf").write_text("")

    def _start_epmd(self) -> None:
        if self._epmd is not None and self._epmd.poll() is None:
            return
        self._epmd = subprocess.Popen(
            [_epmd_binary(), "-port", str(self.epmd_port), "-address", LOOPBACK],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(self.epmd_port, 10.0, self._epmd, "epmd")

    def start(self, timeout_s: float = 90.0) -> RabbitMQ:
        """Boot the node (data in ``workdir`` is kept across restarts) and wait until ready."""
        if self.running:
            return self
        began = time.monotonic()
        self._write_config()
        self._start_epmd()
        with (self.workdir / "stdout.log").open("ab") as out:
            self.process = subprocess.Popen(
                [self.server_script],
                env=self.environment(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_for_port(self.amqp_port, timeout_s, self.process, "RabbitMQ", self._log_tail)
            self._await_amqp(began + timeout_s)
        except BaseException:
            self.kill()
            raise
        self.startup_s = time.monotonic() - began
        return self

    def _await_amqp(self, deadline: float) -> None:
        parameters = pika.URLParameters(f"{self.url}?connection_attempts=1&socket_timeout=2")
        while True:
            try:
                pika.BlockingConnection(parameters).close()
                return  # noqa: TRY300 - the loop's one way out
            except pika.exceptions.AMQPError as error:
                if time.monotonic() > deadline or not self.running:
                    raise RabbitMQError(
                        f"RabbitMQ node {self.node} refused AMQP: {error!r}\n{self._log_tail()}"
                    ) from error
                time.sleep(0.1)

    def ctl(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``rabbitmqctl -n NODE ARGS`` against this node; raise with its output on failure."""
        result = subprocess.run(
            [self.ctl_script, "-n", self.node, *args],
            env=self.environment(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise RabbitMQError(
                f"rabbitmqctl {' '.join(args)} exited {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the node cleanly (``rabbitmqctl stop``, then SIGTERM/SIGKILL by PID)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            self.ctl("stop", timeout_s=timeout_s)
        except (RabbitMQError, subprocess.TimeoutExpired):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the node (a crash: quorum queues recover from their log on the next start)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        # The VM leads its own session (start_new_session): its helpers
        # (erl_child_setup, inet_gethost) go with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)

    def restart(self, timeout_s: float = 90.0) -> None:
        self.stop()
        self.start(timeout_s)

    def close(self) -> None:
        """Stop the node and its epmd; the caller removes ``workdir``."""
        self.stop()
        if self._epmd is not None and self._epmd.poll() is None:
            self._epmd.terminate()
            try:
                self._epmd.wait(10)
            except subprocess.TimeoutExpired:
                self._epmd.kill()
                self._epmd.wait(10)

    def _log_tail(self, lines: int = 20) -> str:
        texts = []
        for path in (self.workdir / "stdout.log", self.log_path):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                texts.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(texts)


def _wait_for_port(
    port: int,
    timeout_s: float,
    process: subprocess.Popen[bytes],
    what: str,
    describe: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = describe() if describe is not None else ""
            raise RabbitMQError(
                f"{what} exited with code {process.returncode} before listening\n{detail}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RabbitMQError(f"{what}: nothing listening on {LOOPBACK}:{port} after {timeout_s} s")
