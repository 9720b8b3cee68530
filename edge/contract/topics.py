"""MQTT topic names of the wire contract, formatted and parsed in one place.

Every topic the gateway reads is ``appliances/{device_id}/{channel}``; the only
topic it writes is ``service/{device_id}/notices``. Keeping the grammar here
means a typo in a topic string cannot silently route messages nowhere.

>>> telemetry_topic("ac-000123")
'appliances/ac-000123/telemetry'
>>> parse_topic("appliances/wm-7/events")
TopicAddress(device_id='wm-7', channel=<Channel.EVENTS: 'events'>)
>>> is_valid_device_id("bad id")
False
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)

APPLIANCE_ROOT = "appliances"
SERVICE_ROOT = "service"

#: Subscription filter that covers every contract topic an appliance publishes.
APPLIANCE_SUBSCRIPTION = f"{APPLIANCE_ROOT}/+/+"


class Channel(StrEnum):
    """The four topics an appliance publishes under its own prefix."""

    BIRTH = "birth"
    STATUS = "status"
    TELEMETRY = "telemetry"
    EVENTS = "events"


#: QoS and retain flag per channel, as the contract's topic table sets them.
RETAINED_CHANNELS = frozenset({Channel.BIRTH, Channel.STATUS})
CONTRACT_QOS = 1


class TopicAddress(NamedTuple):
    """Who a message is from and on which channel it came."""

    device_id: str
    channel: Channel


class TopicError(ValueError):
    """A topic outside the contract's grammar."""


def is_valid_device_id(device_id: str) -> bool:
    """Whether ``device_id`` matches the contract's ``^[A-Za-z0-9_-]{1,64}$``."""
    return _DEVICE_ID.fullmatch(device_id) is not None


def appliance_topic(device_id: str, channel: Channel) -> str:
    """The topic ``appliances/{device_id}/{channel}``; refuses an invalid id."""
    if not is_valid_device_id(device_id):
        raise TopicError(f"device id {device_id!r} does not match {DEVICE_ID_PATTERN}")
    return f"{APPLIANCE_ROOT}/{device_id}/{channel.value}"


def birth_topic(device_id: str) -> str:
    return appliance_topic(device_id, Channel.BIRTH)


def status_topic(device_id: str) -> str:
    return appliance_topic(device_id, Channel.STATUS)


def telemetry_topic(device_id: str) -> str:
    return appliance_topic(device_id, Channel.TELEMETRY)


def events_topic(device_id: str) -> str:
    return appliance_topic(device_id, Channel.EVENTS)


def notices_topic(device_id: str) -> str:
    """The gateway's one outgoing topic, ``service/{device_id}/notices``."""
    if not is_valid_device_id(device_id):
        raise TopicError(f"device id {device_id!r} does not match {DEVICE_ID_PATTERN}")
    return f"{SERVICE_ROOT}/{device_id}/notices"


@lru_cache(maxsize=1 << 16)
def parse_topic(topic: str) -> TopicAddress:
    """Split an appliance topic into device id and channel, or raise :class:`TopicError`.

    Cached: a fleet's topics repeat with every message, and the check costs more
    than the lookup (a refused topic is not cached: the error is raised again).
    """
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != APPLIANCE_ROOT:
        raise TopicError(f"topic {topic!r} is not appliances/{{device_id}}/{{channel}}")
    _, device_id, channel = parts
    if not is_valid_device_id(device_id):
        raise TopicError(f"device id {device_id!r} in topic does not match {DEVICE_ID_PATTERN}")
    try:
        return TopicAddress(device_id, Channel(channel))
    except ValueError:
        known = ", ".join(c.value for c in Channel)
        raise TopicError(f"unknown channel {channel!r} (expected one of {known})") from None
