"""Scale-out settings, from ``HOUSECALL_*`` environment variables like the gateway's.

Kept here (not in :mod:`gateway.settings`) so the transport is usable on its own;
the gateway copies these fields when it wires the transport in.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PARTITIONS = 16


class ScaleOutSettings(BaseSettings):
    """Where RabbitMQ is and how the fleet is partitioned.

    ``partitions`` must be the same in every process of one fleet: it decides
    which queue a device hashes to.
    """

    model_config = SettingsConfigDict(env_prefix="HOUSECALL_", extra="ignore", frozen=True)

    amqp_url: SecretStr | None = Field(
        default=None, description="amqp:// URL of RabbitMQ; unset runs one process (no scale-out)"
    )
    partitions: Annotated[int, Field(ge=1, le=1024)] = Field(
        default=DEFAULT_PARTITIONS,
        description="partition queues; the same in every process of a fleet",
    )
    amqp_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = Field(
        default="housecall", description="names: <prefix>.devices and <prefix>.partition.<i>"
    )
    amqp_prefetch: Annotated[int, Field(ge=1, le=65_535)] = Field(
        default=500, description="unacknowledged deliveries per partition queue per consumer"
    )
