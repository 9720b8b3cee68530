"""The gateway's settings (contract section 5): environment first, CLI flags on top.

A bad value never reaches the code as a traceback: :func:`load_settings` turns
pydantic's report into one line naming the environment variable, e.g.
``HOUSECALL_API_PORT: Input should be less than or equal to 65535 (got 70000)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge.contract import DEFAULT_MAX_PAYLOAD_BYTES
from edge.mqtt_url import MqttUrl

ENV_PREFIX = "HOUSECALL_"


class SettingsError(ValueError):
    """A setting with a bad value; the message is one readable line."""


class Settings(BaseSettings):
    """Everything a brand sets to deploy the gateway; defaults run it fully embedded."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    mqtt_url: str | None = Field(
        default=None, description="mqtt:// or mqtts:// broker URL; unset runs an embedded broker"
    )
    database_url: str = Field(
        default="sqlite:///housecall.db",
        description="SQLAlchemy URL: work orders, devices, dead letters",
    )
    influx_url: str | None = Field(
        default=None, description="InfluxDB v2 URL; unset keeps telemetry in the embedded store"
    )
    influx_token: SecretStr | None = None
    influx_org: str = "housecall"
    influx_bucket: str = "telemetry"
    api_host: str = Field(default="127.0.0.1", description="address the HTTP API binds")
    api_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    admin_token: SecretStr | None = Field(
        default=None, description="bearer token with full access to the API"
    )
    client_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "housecall-gateway"
    max_payload_bytes: Annotated[int, Field(ge=256, le=16 * 1024 * 1024)] = (
        DEFAULT_MAX_PAYLOAD_BYTES
    )
    spool_dir: Path = Field(default=Path("housecall-spool"), description="time-series disk spool")
    spool_max_bytes: Annotated[int, Field(ge=1024)] = 512 * 1024 * 1024
    checkpoint_interval_s: Annotated[float, Field(ge=1, le=86_400)] = Field(
        default=300.0,
        description="wall seconds between detector checkpoints (the journal replays the rest)",
    )
    checkpoint_max_journal: Annotated[int, Field(ge=100, le=10_000_000)] = Field(
        default=500_000,
        description="journaled messages that trigger a checkpoint before the interval ends",
    )

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_parses(cls, value: str | None) -> str | None:
        if value is not None:
            MqttUrl.parse(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        # Checked by scheme only: importing SQLAlchemy here would slow every CLI start.
        scheme, separator, _ = value.partition("://")
        if not separator:
            raise ValueError(f"not a database URL: {value!r}")
        if scheme.split("+", 1)[0] not in {"sqlite", "postgresql"}:
            raise ValueError(f"only sqlite:// and postgresql:// are supported, got {value!r}")
        return value

    @field_validator("influx_url")
    @classmethod
    def _influx_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value

    def mqtt(self) -> MqttUrl | None:
        """The broker to use, or None for the embedded one."""
        return MqttUrl.parse(self.mqtt_url) if self.mqtt_url else None


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with CLI overrides (``None`` means "not given")."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as err:
        raise SettingsError(describe_settings_error(err, given)) from None


def describe_settings_error(err: ValidationError, given: dict[str, Any]) -> str:
    """One line naming the first bad setting as the user wrote it (flag or variable)."""
    first = err.errors(include_url=False)[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    name = f"--{field.replace('_', '-')}" if field in given else f"{ENV_PREFIX}{field.upper()}"
    message = str(first["msg"]).removeprefix("Value error, ")
    got = first.get("input")
    shown = "" if isinstance(got, dict) or got is None else f" (got {str(got)[:60]!r})"
    return f"{name}: {message}{shown}"
