"""Persistence: how many windows (cycles) of evidence open a finding."""

from __future__ import annotations

from dataclasses import replace

import pytest

from detectors.api import Finding
from detectors.fleet import LAYOUTS, HousecallDetector
from detectors.judging import FAULT_ORDER, KindTuning
from detectors.signatures import SIGNALS
from detectors.state import DeviceState
from edge.contract import Fault, Kind

DAY = 86400.0


def judge(
    detector: HousecallDetector,
    state: DeviceState,
    *,
    kind: Kind,
    fault: Fault,
    score: float,
    ts: float,
) -> list[Finding]:
    scores = dict.fromkeys(FAULT_ORDER[kind], 0.0)
    scores[fault] = score
    z = [0.0] * len(SIGNALS[kind])
    signals = detector.judge.persistence(
        state=state, kind=kind, z=z, scores=scores, ts=ts, open_any=False, hold={}
    )
    return [s for s in signals if isinstance(s, Finding)]


def washer(detector: HousecallDetector) -> DeviceState:
    state = DeviceState.new("wm-1", "washer", "BW-8414", LAYOUTS["washer"])
    detector.devices["wm-1"] = state
    return state


def test_a_washer_fault_opens_on_two_of_three_cycles_despite_one_quiet_cycle() -> None:
    detector = HousecallDetector()
    state = washer(detector)
    strong = detector.config.tuning[Kind.WASHER].open_score + 0.5
    assert not judge(
        detector, state, kind=Kind.WASHER, fault=Fault.SUSPENSION_WEAR, score=strong, ts=1 * DAY
    )
    assert not judge(
        detector, state, kind=Kind.WASHER, fault=Fault.SUSPENSION_WEAR, score=0.5, ts=2 * DAY
    )
    found = judge(
        detector, state, kind=Kind.WASHER, fault=Fault.SUSPENSION_WEAR, score=strong, ts=3 * DAY
    )
    assert [f.fault for f in found] == [Fault.SUSPENSION_WEAR]


def test_evidence_spread_thinner_than_two_of_three_opens_nothing() -> None:
    detector = HousecallDetector()
    state = washer(detector)
    strong = detector.config.tuning[Kind.WASHER].open_score + 0.5
    for day, score in enumerate([strong, 0.5, 0.5, strong, 0.5, 0.5, strong]):
        assert not judge(
            detector,
            state,
            kind=Kind.WASHER,
            fault=Fault.SUSPENSION_WEAR,
            score=score,
            ts=day * DAY,
        )


def ac(detector: HousecallDetector) -> DeviceState:
    state = DeviceState.new("ac-1", "ac", "KS-50V", LAYOUTS["ac"])
    detector.devices["ac-1"] = state
    return state


def test_an_ac_fault_still_needs_its_windows_in_a_row() -> None:
    detector = HousecallDetector()
    state = ac(detector)
    tune = detector.config.tuning[Kind.AC]
    strong = tune.open_score + 0.5
    step = 1800.0  # windows half an hour apart: the evidence spans hours either way
    ts = 0.0
    for _ in range(tune.persist - 1):
        ts += step
        assert not judge(
            detector, state, kind=Kind.AC, fault=Fault.CONDENSER_FOULING, score=strong, ts=ts
        )
    assert not judge(
        detector, state, kind=Kind.AC, fault=Fault.CONDENSER_FOULING, score=0.5, ts=ts + step
    )
    ts += step
    for _ in range(tune.persist - 1):
        ts += step
        assert not judge(
            detector, state, kind=Kind.AC, fault=Fault.CONDENSER_FOULING, score=strong, ts=ts
        )
    found = judge(
        detector, state, kind=Kind.AC, fault=Fault.CONDENSER_FOULING, score=strong, ts=ts + step
    )
    assert [f.fault for f in found] == [Fault.CONDENSER_FOULING]


def test_an_ac_pattern_held_for_an_hour_opens_nothing_held_for_two_hours_it_does() -> None:
    detector = HousecallDetector()
    state = ac(detector)
    tune = detector.config.tuning[Kind.AC]
    assert tune.persist_s == 2 * 3600.0
    strong = tune.open_score + 0.5
    # An evening with the windows open: ten-minute windows of evidence for 80 minutes.
    for n in range(9):
        assert not judge(
            detector, state, kind=Kind.AC, fault=Fault.COMPRESSOR_WEAR, score=strong, ts=n * 600.0
        )
    # Then normal for an hour: the streak is over and the next one starts from scratch.
    for n in range(9, 15):
        assert not judge(
            detector, state, kind=Kind.AC, fault=Fault.COMPRESSOR_WEAR, score=0.5, ts=n * 600.0
        )
    found: list[Finding] = []
    n = 15
    while not found:
        found = judge(
            detector, state, kind=Kind.AC, fault=Fault.COMPRESSOR_WEAR, score=strong, ts=n * 600.0
        )
        n += 1
    assert (n - 1 - 15) * 600.0 == tune.persist_s  # two hours after the streak's first window
    assert [f.fault for f in found] == [Fault.COMPRESSOR_WEAR]


def test_persistence_settings_are_checked() -> None:
    base = HousecallDetector().config.tuning[Kind.WASHER]
    with pytest.raises(ValueError, match="persist_of"):
        replace(base, persist=4, persist_of=3)
    assert isinstance(replace(base, persist_of=5), KindTuning)
