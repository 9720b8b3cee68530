"""Opening connections to RabbitMQ with errors a person can act on.

pika reports an unreachable broker as ``AMQPConnectionError`` wrapping a list of
per-attempt errors; :func:`connect_blocking` turns that into one line:
``cannot reach RabbitMQ at amqp://guest:***@host:5672/%2F: connection refused``.
"""

from __future__ import annotations

import socket
import urllib.parse

import pika
import pika.exceptions

from gateway.scaleout.errors import TransportUnavailable

#: Defaults appended to a URL that does not set them: fail fast at start, and a
#: heartbeat short enough that RabbitMQ notices a dead worker (and hands its
#: partitions over) within about 2 x heartbeat.
URL_DEFAULTS = {
    "connection_attempts": "1",
    "socket_timeout": "5",
    "blocked_connection_timeout": "60",
    "heartbeat": "15",
}


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = urllib.parse.unquote(parts.username or "")
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def parameters(url: str, *, name: str) -> pika.URLParameters:
    """pika parameters for ``url``; ``name`` shows in RabbitMQ's connection list."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"amqp", "amqps"}:
        raise TransportUnavailable(f"not an amqp:// or amqps:// URL: {redact(url)}")
    query = dict(urllib.parse.parse_qsl(parts.query))
    merged = {**URL_DEFAULTS, **query}
    try:
        params = pika.URLParameters(
            urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(merged)))
        )
    except (TypeError, ValueError) as error:
        raise TransportUnavailable(f"bad AMQP URL {redact(url)}: {error}") from error
    params.client_properties = {"connection_name": name}
    return params


def describe_error(error: BaseException) -> str:
    """A short reason for a pika connection failure (refused, timeout, auth, vhost)."""
    if isinstance(error, pika.exceptions.ProbableAuthenticationError):
        return "login refused (user or password)"
    if isinstance(error, pika.exceptions.ProbableAccessDeniedError):
        return "access refused (virtual host missing or no permission)"
    if isinstance(error, pika.exceptions.ConnectionClosedByBroker):
        return f"{error.reply_text} ({error.reply_code})"
    # pika wraps the socket's error: AMQPConnectionError((AMQPConnector...Error,)),
    # whose ``exception`` attribute holds e.g. ConnectionRefusedError.
    wrapped = getattr(error, "exception", None)
    if isinstance(wrapped, BaseException):
        return describe_error(wrapped)
    inner = error.args[0] if error.args else None
    if isinstance(inner, (list, tuple)) and inner:
        inner = inner[-1]
    if isinstance(error, pika.exceptions.AMQPError) and isinstance(inner, BaseException):
        return describe_error(inner)
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is RabbitMQ running and listening there?)"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "timed out"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def connect_blocking(url: str, *, name: str) -> pika.BlockingConnection:
    """A blocking connection, or :class:`TransportUnavailable` with one readable line."""
    params = parameters(url, name=name)
    try:
        return pika.BlockingConnection(params)
    except (pika.exceptions.AMQPError, OSError) as error:
        raise TransportUnavailable(
            f"cannot reach RabbitMQ at {redact(url)}: {describe_error(error)}"
        ) from error
