"""docker-compose.yml cannot be run here (no Docker engine), so check what can be checked:
it parses, every Housecall service calls real subcommands with real flags and names settings
the code reads, every file it mounts exists, and the broker's ACL really confines a device
to its own prefix (on a real Mosquitto with the shipped ACL and a password file).
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import typer
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from gateway.settings import Settings
from housecall.cli import app
from tests.servers import Mosquitto, ensure_binary

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
HOUSECALL_SERVICES = {
    name: s for name, s in SERVICES.items() if s.get("image") == "housecall:latest"
}


def test_the_stack_has_every_part_the_deployment_needs() -> None:
    images = {s.get("image", "").split(":")[0] for s in SERVICES.values()}
    assert {"eclipse-mosquitto", "influxdb", "postgres", "grafana/grafana"} <= images
    roles = {service["command"][0] for service in HOUSECALL_SERVICES.values()}
    assert roles == {"gateway", "edge", "simulate"}


def test_housecall_environment_names_real_settings() -> None:
    known = {f"HOUSECALL_{name.upper()}" for name in Settings.model_fields}
    for name, service in HOUSECALL_SERVICES.items():
        for variable in service.get("environment", {}):
            if variable.startswith("HOUSECALL_"):
                assert variable in known, f"{name}: {variable} is not read by the code"


@pytest.mark.parametrize("service", sorted(HOUSECALL_SERVICES))
def test_commands_and_flags_exist(service: str) -> None:
    command, *args = HOUSECALL_SERVICES[service]["command"]
    group = typer.main.get_command(app)
    subcommand = group.commands[command]  # type: ignore[attr-defined]
    flags = {opt for param in subcommand.params for opt in param.opts}
    for arg in args:
        assert arg.split("=", 1)[0] in flags, f"{service}: {arg} is not a flag of {command}"


def test_mounted_files_and_build_context_exist() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_the_gateway_environment_parses_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in HOUSECALL_SERVICES["gateway"]["environment"].items():
        monkeypatch.setenv(variable, _expand_defaults(str(value)))
    settings = Settings()
    assert settings.mqtt() is not None
    assert settings.database_url.startswith("postgresql://")


def _expand_defaults(value: str) -> str:
    """Compose's ``${NAME:-default}`` with nothing set becomes its default."""
    while "${" in value:
        start = value.index("${")
        end = value.index("}", start)
        value = value[:start] + value[start + 2 : end].split(":-", 1)[1] + value[end + 1 :]
    return value


def test_the_acl_confines_each_device_to_its_own_prefix(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    tool = ensure_binary("mosquitto_passwd", "mosquitto", search=("/usr/bin",))
    subprocess.run([tool, "-c", "-b", str(passwd), "gateway", "pw"], check=True, timeout=30)
    subprocess.run([tool, "-b", str(passwd), "ac-1", "pw"], check=True, timeout=30)
    acl = ROOT / "deploy/mosquitto/acl"
    broker = Mosquitto(
        tmp_path / "broker",
        anonymous=False,
        extra_config=f"password_file {passwd}\nacl_file {acl}\n",
    )
    broker.start()
    try:
        received = _gateway_receives_from(
            broker.port, "ac-1", ["appliances/ac-1/telemetry", "appliances/ac-2/telemetry"]
        )
    finally:
        broker.stop()
    assert received == ["appliances/ac-1/telemetry"]


def _gateway_receives_from(port: int, device: str, topics: list[str]) -> list[str]:
    got: list[str] = []
    subscribed = threading.Event()
    gateway = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="acl-gateway")
    gateway.username_pw_set("gateway", "pw")
    gateway.on_message = lambda _c, _u, msg: got.append(msg.topic)
    gateway.on_subscribe = lambda *_: subscribed.set()
    gateway.connect("127.0.0.1", port)
    gateway.subscribe("appliances/#", qos=1)
    gateway.loop_start()
    assert subscribed.wait(5)
    appliance = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device)
    appliance.username_pw_set(device, "pw")
    appliance.connect("127.0.0.1", port)
    appliance.loop_start()
    for topic in topics:
        appliance.publish(topic, b"{}", qos=1).wait_for_publish(5)
    time.sleep(0.5)
    appliance.loop_stop()
    gateway.loop_stop()
    return got
