"""Parse the ``mqtt://user:pass@host:1883`` / ``mqtts://...`` URLs used in every setting.

>>> MqttUrl.parse("mqtts://dev:s3cret@broker.example:8883")
MqttUrl(host='broker.example', port=8883, username='dev', password='s3cret', tls=True)
>>> MqttUrl.parse("mqtt://127.0.0.1").port
1883
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_DEFAULT_PORT = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class MqttUrl:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> MqttUrl:
        """Read a broker URL; raises ``ValueError`` with a readable reason."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORT:
            raise ValueError(f"scheme must be mqtt:// or mqtts://, got {url!r}")
        if not parts.hostname:
            raise ValueError(f"no host in {url!r}")
        try:
            port = parts.port or _DEFAULT_PORT[parts.scheme]
        except ValueError:
            raise ValueError(f"bad port in {url!r}") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "mqtts",
        )

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"
