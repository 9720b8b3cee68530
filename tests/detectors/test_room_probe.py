"""The room probe is judged by its full response: its own signals and the cohort's expectation.

A room probe reading high moves the signals built from it (evaporator approach, air-side
delta T in cooling) and, through the conditions the cohort predicts from, the expectation
of every other signal. Here a cohort learns healthy units whose discharge temperature,
condensing approach and superheat rise with the room; a unit whose probe reads 3 K high
then shows those three low beside a high evaporator approach: a dirty filter to the static
pattern, a sensor fault to the response.
"""

from __future__ import annotations

import random

from detectors.baseline import CohortBaseline
from detectors.diagnosis import fault_scores
from detectors.judging import probe_response
from detectors.signatures import (
    AC_SIGNALS,
    ADT,
    CA,
    CAP,
    CPH,
    DIS,
    EA,
    EEV,
    HZ,
    IFR,
    OFR,
    ROOM_PROBE,
    SH,
    ProbeResponse,
)
from edge.contract import Fault, Kind


def healthy(room: float, setpoint: float, outdoor: float) -> list[float]:
    """Signals of a healthy unit at the true room temperature."""
    load = room - setpoint
    y = [0.0] * len(AC_SIGNALS)
    y[SH] = 5.0 + 0.4 * (room - 25.0)
    y[CA] = 8.0 + 0.2 * (outdoor - 30.0) + 0.6 * load
    y[EA] = 14.0 + 0.5 * (room - 25.0)
    y[ADT] = 10.0 + 0.4 * (room - 25.0)
    y[DIS] = 70.0 + 0.5 * (outdoor - 30.0) + 1.5 * (room - 25.0) + 2.0 * load
    y[CPH] = 0.1
    y[EEV] = 200.0
    y[OFR] = 800.0
    y[IFR] = 1000.0 + 80.0 * load
    y[CAP] = 0.2
    y[HZ] = 50.0
    return y


def conditions(room: float, setpoint: float, outdoor: float) -> dict[str, float]:
    """The AC window's condition features (as ``detectors.ac`` builds them)."""
    return {
        "c": 1.0,
        "to": (outdoor - 25.0) / 10.0,
        "tr": (room - 25.0) / 5.0,
        "hz": 0.0,
        "hz_to": 0.0,
        "hz2": 0.0,
        "ld": (room - setpoint) / 3.0,
    }


def trained_cohort() -> CohortBaseline:
    rng = random.Random(5)
    cohort = CohortBaseline(tuple(spec.floor for spec in AC_SIGNALS), frozenset({HZ}))
    for hour in range(600):
        setpoint = rng.choice((22.0, 24.0, 26.0))
        room = setpoint + rng.uniform(-0.5, 2.5)
        outdoor = rng.uniform(24.0, 38.0)
        y = [
            value + rng.gauss(0.0, 2.0 * spec.floor)
            for value, spec in zip(healthy(room, setpoint, outdoor), AC_SIGNALS, strict=True)
        ]
        cohort.offer(float(hour), "u", conditions(room, setpoint, outdoor), {"c": 1.0}, y)
    cohort.apply_pending()
    cohort.spread = [2.0 * spec.floor for spec in AC_SIGNALS]
    return cohort


def test_a_drifting_room_probe_is_named_a_sensor_fault_by_its_response() -> None:
    cohort = trained_cohort()
    room, setpoint, outdoor, drift = 25.0, 24.0, 32.0, 3.0
    read = conditions(room + drift, setpoint, outdoor)
    expected = cohort.predict(read, {"c": 1.0})
    y = healthy(room, setpoint, outdoor)
    y[EA] += drift  # the signals built from the probe read its error
    y[ADT] += drift
    z = [
        (value - e) / cohort.scale(i) for i, (value, e) in enumerate(zip(y, expected, strict=True))
    ]

    static = fault_scores(Kind.AC, z)
    assert max(static, key=static.__getitem__) is not Fault.SENSOR_FAULT

    shifted = conditions(room + drift + 1.0, setpoint, outdoor)
    probe = probe_response(cohort, {"c": 1.0}, expected, (shifted, ROOM_PROBE["cool"]))
    assert probe is not None
    scores = fault_scores(Kind.AC, z, probe)
    assert max(scores, key=scores.__getitem__) is Fault.SENSOR_FAULT


def test_a_dirty_filter_stays_a_dirty_filter_beside_the_room_probe() -> None:
    """The filter speeds the indoor fan up; a room probe reading high predicts it faster
    still (more load), so the fan's residual argues against the probe."""
    cohort = trained_cohort()
    room, setpoint, outdoor = 25.0, 24.0, 32.0
    read = conditions(room, setpoint, outdoor)
    expected = cohort.predict(read, {"c": 1.0})
    z = [0.0] * len(AC_SIGNALS)
    z[EA], z[SH], z[CA], z[DIS], z[ADT], z[IFR] = 6.0, -3.0, -3.0, -3.0, 3.0, 3.0
    shifted = conditions(room + 1.0, setpoint, outdoor)
    probe = probe_response(cohort, {"c": 1.0}, expected, (shifted, ROOM_PROBE["cool"]))
    scores = fault_scores(Kind.AC, z, probe)
    assert max(scores, key=scores.__getitem__) is Fault.DIRTY_FILTER


def test_in_heating_the_room_probe_moves_the_condensing_approach() -> None:
    """Heating swaps the coils: the room reading sits in the condensing approach (indoor
    coil minus room) and the air-side delta T (supply minus room), both down."""
    z = [0.0] * len(AC_SIGNALS)
    z[CA], z[ADT] = -5.0, -4.0
    response = [0.0] * len(AC_SIGNALS)
    for index, per_kelvin in ROOM_PROBE["heat"].items():
        response[index] = per_kelvin / 0.5
    probe = ProbeResponse(response, frozenset(ROOM_PROBE["heat"]))
    scores = fault_scores(Kind.AC, z, probe)
    assert max(scores, key=scores.__getitem__) is Fault.SENSOR_FAULT
    assert scores[Fault.SENSOR_FAULT] > 1.5
