"""API keys: who is calling, and what they may see.

- the admin bearer token (``HOUSECALL_ADMIN_TOKEN``) sees and does everything;
- a ``brand`` key sees its brand's devices and orders (and manages its webhooks);
- a ``technician`` key sees only the orders assigned to that technician.

A key is ``hck_<ULID>.<secret>``; only the SHA-256 of the secret is stored (the
secret is 256 random bits, so a fast hash is enough: nothing to brute-force), and
it is shown once, when created.

>>> token = format_token("key_01ABC", "s3cret")
>>> split_token(token)
('key_01ABC', 's3cret')
>>> split_token("garbage") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from gateway.workorders.ids import new_id, utcnow
from gateway.workorders.tables import ApiKeyRow

TOKEN_PREFIX = "hck_"  # noqa: S105 - a prefix, not a secret


class Role(StrEnum):
    ADMIN = "admin"
    BRAND = "brand"
    TECHNICIAN = "technician"


@dataclass(frozen=True, slots=True)
class Scope:
    """What the caller may see; filters every query the API makes."""

    role: Role
    brand: str | None = None
    technician_id: str | None = None
    key_id: str | None = None

    @property
    def actor(self) -> str:
        if self.role is Role.ADMIN:
            return f"admin:{self.key_id or 'token'}"
        if self.role is Role.BRAND:
            return f"brand:{self.brand}"
        return f"technician:{self.technician_id}"


ADMIN = Scope(Role.ADMIN)


def format_token(key_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}{key_id}.{secret}"


def split_token(token: str) -> tuple[str, str] | None:
    if not token.startswith(TOKEN_PREFIX) or "." not in token:
        return None
    key_id, secret = token.removeprefix(TOKEN_PREFIX).split(".", 1)
    return (key_id, secret) if key_id and secret else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    role: Role,
    name: str,
    brand: str | None = None,
    technician_id: str | None = None,
) -> tuple[ApiKeyRow, str]:
    """Store a new key; returns the row and the token (shown to the caller once)."""
    if role is Role.BRAND and not brand:
        raise ValueError("a brand key needs a brand")
    if role is Role.TECHNICIAN and not technician_id:
        raise ValueError("a technician key needs a technician_id")
    secret = secrets.token_urlsafe(32)
    row = ApiKeyRow(
        id=new_id("key"),
        name=name,
        role=role.value,
        brand=brand if role is Role.BRAND else None,
        technician_id=technician_id if role is Role.TECHNICIAN else None,
        secret_sha256=_digest(secret),
        created_wall_at=utcnow(),
    )
    session.add(row)
    return row, format_token(row.id, secret)


def authenticate(session: Session, token: str | None, admin_token: str | None) -> Scope | None:
    """The caller's scope, or None (missing, wrong or revoked key: the API answers 401)."""
    if not token:
        return None
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return ADMIN
    parts = split_token(token)
    if parts is None:
        return None
    row = session.get(ApiKeyRow, parts[0])
    if row is None or row.revoked_wall_at is not None:
        return None
    if not hmac.compare_digest(row.secret_sha256, _digest(parts[1])):
        return None
    return Scope(Role(row.role), row.brand, row.technician_id, row.id)
