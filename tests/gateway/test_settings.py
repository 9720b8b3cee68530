from __future__ import annotations

import pytest

from gateway.settings import Settings, SettingsError, load_settings


def test_defaults_run_fully_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MQTT_URL", "DATABASE_URL", "INFLUX_URL", "API_PORT"):
        monkeypatch.delenv(f"HOUSECALL_{name}", raising=False)
    settings = load_settings()
    assert settings.mqtt() is None
    assert settings.database_url == "sqlite:///housecall.db"
    assert settings.influx_url is None
    assert settings.api_port == 8080


def test_environment_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSECALL_MQTT_URL", "mqtts://gw:pw@broker.example:8883")
    monkeypatch.setenv("HOUSECALL_API_PORT", "9000")
    settings = load_settings(api_port=9100)
    mqtt = settings.mqtt()
    assert mqtt is not None
    assert (mqtt.host, mqtt.port, mqtt.username, mqtt.tls) == ("broker.example", 8883, "gw", True)
    assert settings.api_port == 9100


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("HOUSECALL_API_PORT", "eighty", "HOUSECALL_API_PORT"),
        ("HOUSECALL_API_PORT", "70000", "HOUSECALL_API_PORT"),
        ("HOUSECALL_MQTT_URL", "http://broker", "HOUSECALL_MQTT_URL"),
        ("HOUSECALL_DATABASE_URL", "mysql://x/y", "HOUSECALL_DATABASE_URL"),
        ("HOUSECALL_INFLUX_URL", "influx:8086", "HOUSECALL_INFLUX_URL"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{named}: ")
    assert "\n" not in message


def test_a_bad_flag_value_names_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"^--api-port: "):
        load_settings(api_port=0)


def test_every_contract_variable_is_a_setting() -> None:
    contract = {
        "HOUSECALL_MQTT_URL",
        "HOUSECALL_DATABASE_URL",
        "HOUSECALL_INFLUX_URL",
        "HOUSECALL_INFLUX_TOKEN",
        "HOUSECALL_INFLUX_ORG",
        "HOUSECALL_INFLUX_BUCKET",
        "HOUSECALL_API_PORT",
        "HOUSECALL_ADMIN_TOKEN",
    }
    known = {f"HOUSECALL_{name.upper()}" for name in Settings.model_fields}
    assert contract <= known
