"""The seam through which customer self-fix notices leave the gateway.

Work orders never see MQTT (architecture): the service hands a contract
:class:`~edge.contract.Notice` to a :class:`NoticePublisher`. In the gateway that is
:class:`MqttNoticePublisher` (``service/{device_id}/notices``, QoS 1); in a unit test
it can be a list's ``append``.
"""

from __future__ import annotations

from typing import Protocol

from edge.contract import CONTRACT_QOS, Notice, encode, notices_topic
from edge.publisher import MqttPublisher


class NoticePublisher(Protocol):
    def __call__(self, notice: Notice, /) -> None:
        """Send one notice (QoS 1); may block briefly, must not lose it once it returns."""


class MqttNoticePublisher:
    """Publishes notices through a connected :class:`edge.publisher.MqttPublisher`."""

    def __init__(self, publisher: MqttPublisher) -> None:
        self._publisher = publisher
        self.published = 0

    def __call__(self, notice: Notice) -> None:
        self._publisher.publish(
            notices_topic(notice.device_id), encode(notice), qos=CONTRACT_QOS, retain=False
        )
        self.published += 1
