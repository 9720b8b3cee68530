from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.contract import Channel, TopicError, appliance_topic, notices_topic, parse_topic


@given(st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"), st.sampled_from(list(Channel)))
def test_format_and_parse_are_inverse(device_id: str, channel: Channel) -> None:
    assert parse_topic(appliance_topic(device_id, channel)) == (device_id, channel)


@pytest.mark.parametrize("device_id", ["", "a" * 65, "ac/1", "ac+1", "ac#", "ac 1", "ä"])
def test_invalid_device_ids_are_refused(device_id: str) -> None:
    with pytest.raises(TopicError):
        appliance_topic(device_id, Channel.TELEMETRY)
    with pytest.raises(TopicError):
        notices_topic(device_id)
