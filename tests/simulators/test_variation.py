"""Physics variation: zero is today's fleet exactly; full variation draws every constant per
model and per unit, deterministically by seed; the faults keep the directions of the
signature table on every sampled unit; the AC fault impacts bracket published lab data."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from edge.contract import Fault, Kind
from simulators.catalog import AC_MODELS
from simulators.faults import FaultPlan, draw_plan
from simulators.fleet import FleetConfig, FleetRun
from simulators.scenario import Confounders, Scenario
from simulators.variation import (
    AC_SPREADS,
    AC_STREAM,
    WASHER_SPREADS,
    WASHER_STREAM,
    Choice,
    Spread,
    draw_constants,
    stretch_ramp_days,
    stretch_severity,
)

# -- zero variation is today's fleet ----------------------------------------------------------

#: Two small fleets as the generator wrote them before physics variation existed
#: (sha256 over topic, payload and retain flag of every message, then the ground truth).
#: The second one has power cuts, brand-new units and glitches: every code path.
BEFORE_VARIATION = {
    "faults everywhere": (
        FleetConfig(devices=16, days=4.0, seed=11, ac_interval_s=120, fault_rate=1.0),
        34655,
        "e5b82a0e32e0b4e5ade13ada7fdef708c50a54ee639ec7db75a3ba600bce7d60",
    ),
    "stormy": (
        FleetConfig(
            devices=10,
            days=3.0,
            seed=5,
            ac_interval_s=300,
            scenario=Scenario(
                fault_rate=0.6,
                confounders=Confounders(
                    power_cuts_per_month=20.0, new_unit_share=0.3, glitch_rate=0.002
                ),
            ),
        ),
        8542,
        "2112e2ccd0adbb9ce0184390de92b68cb89e7bee1ef60a58b9f74e40d05564a7",
    ),
}


def _digest(config: FleetConfig) -> tuple[int, str]:
    run = FleetRun(config)
    h = hashlib.sha256()
    count = 0
    for msg in run.messages():
        h.update(msg.topic.encode())
        h.update(b"\0")
        h.update(msg.payload)
        h.update(b"\1" if msg.retain else b"\0")
        count += 1
    for truth in run.truth():
        h.update(repr(truth.to_json()).encode())
    return count, h.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BEFORE_VARIATION))
def test_zero_variation_is_the_fleet_from_before_variation(name: str) -> None:
    config, count, digest = BEFORE_VARIATION[name]
    assert config.physics_variation == 0.0
    assert _digest(config) == (count, digest)


def test_zero_variation_draws_nothing_and_gives_the_nominal_constants() -> None:
    run = FleetRun(FleetConfig(devices=12, days=1.0, seed=3))
    for table, spreads in ((run.ac_constants, AC_SPREADS), (run.washer_constants, WASHER_SPREADS)):
        for name, c in spreads.items():
            nominal = c.values[0] if isinstance(c, Choice) else c.nominal
            assert np.all(table[name] == nominal), name


def test_the_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="physics_variation"):
        FleetConfig(devices=1, days=1.0, physics_variation=1.5)
    with pytest.raises(ValueError, match="physics_variation"):
        FleetConfig(devices=1, days=1.0, physics_variation=-0.1)
    assert FleetConfig(devices=1, days=1.0, physics_variation=0.3).healthy_twin().physics_variation


# -- full variation: per model, per unit, by seed -----------------------------------------------


def _varying(c: Spread | Choice, level: str) -> bool:
    if isinstance(c, Choice):
        return level == "model"
    lo, hi = c.model if level == "model" else c.unit
    return lo != hi


def test_full_variation_draws_per_model_and_per_unit_deterministically_by_seed() -> None:
    n = 40
    models = [i % len(AC_MODELS) for i in range(n)]
    a = draw_constants(AC_SPREADS, 1.0, models, list(range(n)), seed=9, stream=AC_STREAM)
    again = draw_constants(AC_SPREADS, 1.0, models, list(range(n)), seed=9, stream=AC_STREAM)
    other = draw_constants(AC_SPREADS, 1.0, models, list(range(n)), seed=10, stream=AC_STREAM)
    for name, c in AC_SPREADS.items():
        assert np.array_equal(a[name], again[name]), name
        nominal = c.values[0] if isinstance(c, Choice) else c.nominal
        if isinstance(c, Spread) or len(set(c.values)) > 1:
            assert np.any(a[name] != nominal) or isinstance(c, Choice), name
        if _varying(c, "unit"):
            # Two units of one model differ; the seed changes every unit.
            assert a[name][0] != a[name][len(AC_MODELS)], name
            assert np.all(a[name] != other[name]), name
        elif _varying(c, "model"):
            # A design constant: shared by every unit of a model.
            same_model = a[name][np.array(models) == 1]
            assert np.all(same_model == same_model[0]), name
    distinct = {float(x) for x in a["kp"]}
    assert len(distinct) == len(AC_MODELS), "each model has its own controller tuning"


def test_every_choice_is_taken_somewhere_at_full_variation() -> None:
    n = 400
    keys = list(range(n))  # one model per unit: many design draws
    for spreads, stream in ((AC_SPREADS, AC_STREAM), (WASHER_SPREADS, WASHER_STREAM)):
        drawn = draw_constants(spreads, 1.0, keys, keys, seed=1, stream=stream)
        for name, c in spreads.items():
            if isinstance(c, Choice):
                assert set(np.unique(drawn[name]).tolist()) == set(c.values), name


def test_variation_scales_the_spread_between_zero_and_one() -> None:
    keys = list(range(30))
    half = draw_constants(AC_SPREADS, 0.5, keys, keys, seed=2, stream=AC_STREAM)
    full = draw_constants(AC_SPREADS, 1.0, keys, keys, seed=2, stream=AC_STREAM)
    # A factor at v is the factor at 1 raised to v; an offset scales linearly.
    assert np.allclose(half["ua_in"], np.sqrt(full["ua_in"]))
    assert np.allclose(half["sh_cool_k"] - 5.0, 0.5 * (full["sh_cool_k"] - 5.0))
    for name in ("ua_in", "ua_out", "eev_k", "kp", "heater_w_k"):
        if name in full:
            assert np.ptp(np.log(half[name])) < np.ptp(np.log(full[name]))


def test_a_fleet_at_full_variation_differs_per_unit_and_its_twin_shares_the_physics() -> None:
    config = FleetConfig(devices=30, days=1.0, seed=4, physics_variation=1.0)
    run = FleetRun(config)
    twin = FleetRun(config.healthy_twin())
    ac = [d.device_id for d in run.devices if d.kind.value == "ac"]
    wm = [d.device_id for d in run.devices if d.kind.value == "washer"]
    assert run.constants(ac[0])["ua_in"] != run.constants(ac[1])["ua_in"]
    assert run.constants(wm[0])["level_offset_mm"] != run.constants(wm[1])["level_offset_mm"]
    for device_id in ac + wm:
        assert run.constants(device_id) == twin.constants(device_id)
    reseeded = FleetRun(FleetConfig(devices=30, days=1.0, seed=5, physics_variation=1.0))
    assert reseeded.ac_constants["ua_in"][0] != run.ac_constants["ua_in"][0]


def test_fault_progression_widens_with_variation_and_explicit_values_stay() -> None:
    assert stretch_severity(0.8, 0.0) == 0.8
    assert stretch_ramp_days(20.0, 0.0) == 20.0
    assert stretch_severity(0.75, 1.0) < 0.75
    assert stretch_severity(1.0, 1.0) == pytest.approx(1.0)
    assert stretch_ramp_days(14.0, 1.0) < 14.0
    assert stretch_ramp_days(36.0, 1.0) > 36.0

    def plans(v: float) -> list[FaultPlan]:
        return [
            draw_plan(
                np.random.default_rng(i), 0, Kind.AC, Fault.REFRIGERANT_LEAK, 0.0, variation=v
            )
            for i in range(200)
        ]

    nominal, wide = plans(0.0), plans(1.0)
    assert min(p.severity for p in wide) < 0.7
    assert min(p.severity for p in nominal) >= 0.75
    assert max(p.ramp_s for p in wide) > 40 * 86400.0 > max(p.ramp_s for p in nominal)
    fixed = draw_plan(
        np.random.default_rng(1),
        0,
        Kind.AC,
        Fault.REFRIGERANT_LEAK,
        0.0,
        ramp_days=20.0,
        severity=0.9,
        variation=1.0,
    )
    assert (fixed.ramp_s, fixed.severity) == (20.0 * 86400.0, 0.9)
