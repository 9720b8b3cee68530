"""Bearing features on REAL bearing data (CWRU, 12 kHz drive end, 1797 rpm).

Run ``.venv/bin/python -m tests.edge.test_features`` (or pytest with ``-s``) for the table.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from edge.features import FeatureError, FloatArray, vibration_features
from edge.vibration_burst import BurstError, make_burst, parse_burst
from tests.datasets import shared_dataset

CWRU = shared_dataset("cwru")
RATE_HZ, RPM = 12_000, 1797.0
NORMAL = "1797_Normal"
FAULTS = sorted(p.stem for p in CWRU.glob("1797_*_DE12.npz"))
#: How far above the healthy bearing's WORST burst every burst of a faulty one must be.
DEFECT_ENERGY_FACTOR = 10.0
HF_RMS_FACTOR = 3.0
COLUMNS = (
    "x_vibration_rms_g",
    "x_vibration_crest_factor",
    "x_vibration_kurtosis",
    "x_vibration_hf_rms_g",
    "x_envelope_bpfo_energy",
    "x_envelope_bpfi_energy",
    "x_envelope_bsf_energy",
    "x_envelope_defect_energy",
)

needs_data = pytest.mark.skipif(not CWRU.exists(), reason="CWRU data set not on this machine")


def signal_of(name: str) -> FloatArray:
    data: FloatArray = np.load(CWRU / f"{name}.npz")["DE"][:, 0].astype(np.float64)
    return data


@cache
def bursts_features(name: str) -> list[dict[str, float]]:
    """Features of every whole 1-s burst of a recording."""
    x = signal_of(name)
    return [
        vibration_features(x[i : i + RATE_HZ], RATE_HZ, RPM)
        for i in range(0, x.size - RATE_HZ + 1, RATE_HZ)
    ]


def table() -> str:
    """Median of each file's 1-s bursts; the last column is defect energy over Normal's."""
    labels = ["rms g", "crest", "kurtosis", "hf rms g", "bpfo", "bpfi", "bsf", "defect", "x normal"]
    lines = [f"{'CWRU file':20s}" + "".join(f"{label:>11s}" for label in labels)]
    normal = np.median([r["x_envelope_defect_energy"] for r in bursts_features(NORMAL)])
    for name in [NORMAL, *FAULTS]:
        rows = bursts_features(name)
        medians = [float(np.median([r[c] for r in rows])) for c in COLUMNS]
        cells = [*medians, medians[-1] / normal]
        lines.append(f"{name:20s}" + "".join(f"{v:11.3g}" for v in cells))
    return "\n".join(lines)


@needs_data
def test_every_fault_file_scores_far_above_the_normal_bearing() -> None:
    print("\n" + table())
    assert len(FAULTS) >= 10
    normal = bursts_features(NORMAL)
    worst_normal_energy = max(r["x_envelope_defect_energy"] for r in normal)
    worst_normal_hf = max(r["x_vibration_hf_rms_g"] for r in normal)
    for name in FAULTS:
        rows = bursts_features(name)
        assert len(rows) >= 9, name
        best_energy = min(r["x_envelope_defect_energy"] for r in rows)
        best_hf = min(r["x_vibration_hf_rms_g"] for r in rows)
        assert best_energy > DEFECT_ENERGY_FACTOR * worst_normal_energy, name
        assert best_hf > HF_RMS_FACTOR * worst_normal_hf, name


@needs_data
def test_outer_race_faults_light_up_the_bpfo_band_inner_race_faults_bpfi() -> None:
    """The defect-frequency bands carry the diagnosis for the clear-cut cases."""
    for name in ("1797_OR@6_21_DE12", "1797_OR@3_7_DE12", "1797_OR@12_7_DE12"):
        rows = bursts_features(name)
        bpfo = np.median([r["x_envelope_bpfo_energy"] for r in rows])
        other = np.median(
            [max(r["x_envelope_bpfi_energy"], r["x_envelope_bsf_energy"]) for r in rows]
        )
        assert bpfo > 5 * other, name
    for name in ("1797_IR_7_DE12", "1797_IR_14_DE12", "1797_IR_21_DE12"):
        rows = bursts_features(name)
        bpfi = np.median([r["x_envelope_bpfi_energy"] for r in rows])
        other = np.median(
            [max(r["x_envelope_bpfo_energy"], r["x_envelope_bsf_energy"]) for r in rows]
        )
        assert bpfi > 3 * other, name


@needs_data
def test_a_burst_through_the_wire_format_gives_the_same_features() -> None:
    x = signal_of("1797_IR_7_DE12")[:RATE_HZ]
    wire = make_burst("wm-1", x, sample_rate_hz=RATE_HZ, rpm=RPM, ts="2026-07-14T13:00:00Z")
    burst = parse_burst("local/wm-1/vibration_raw", wire)
    sent = vibration_features(burst.samples(), burst.sample_rate_hz, burst.rpm, burst.geometry())
    direct = vibration_features(x.astype(np.float32), RATE_HZ, RPM)
    for name, value in direct.items():
        assert sent[name] == pytest.approx(value, rel=1e-6), name


def test_bad_bursts_are_refused_with_a_reason() -> None:
    with pytest.raises(BurstError, match="differs"):
        parse_burst(
            "local/wm-2/vibration_raw",
            make_burst("wm-1", np.zeros(2048), sample_rate_hz=1, rpm=1, ts="2026-07-14T13:00:00Z"),
        )
    with pytest.raises(BurstError, match="rpm"):
        parse_burst(
            "local/wm-1/vibration_raw",
            b'{"schema": "housecall.vibration_raw/1", "device_id": "wm-1", "rpm": -1,'
            b' "ts": "2026-07-14T13:00:00Z", "sample_rate_hz": 12000, "samples": [1, 2]}',
        )
    with pytest.raises(BurstError, match="exactly one"):
        parse_burst(
            "local/wm-1/vibration_raw",
            b'{"schema": "housecall.vibration_raw/1", "device_id": "wm-1", "rpm": 900,'
            b' "ts": "2026-07-14T13:00:00Z", "sample_rate_hz": 12000}',
        )
    with pytest.raises(FeatureError, match="samples"):
        vibration_features(np.zeros(100), 12000, 900)
    with pytest.raises(FeatureError, match="NaN"):
        vibration_features(np.full(4096, np.nan), 12000, 900)


if __name__ == "__main__":
    print(table())
