"""Bearing-health features from one raw vibration burst, computed in the home.

A washer's accelerometer samples at kHz rates; shipping that upstream for every
spin would cost ~50 kB/s per machine. The edge agent reduces each burst (about
1 s at 12 kHz) to a handful of numbers that carry the bearing's condition, and
forwards them as ``x_`` telemetry readings (contract section 2):

- ``x_vibration_rms_g``, ``x_vibration_peak_g``, ``x_vibration_crest_factor``,
  ``x_vibration_kurtosis``: time-domain shape of the raw signal. A healthy
  bearing is nearly Gaussian (kurtosis ~3); spalls add impacts (peaks, kurtosis).
- ``x_vibration_hf_rms_g``: RMS in the demodulation band (default 2 to 5 kHz),
  where impacts excite the structure's resonances and the running noise is low.
- ``x_envelope_bpfo_energy``, ``x_envelope_bpfi_energy``, ``x_envelope_bsf_energy``
  (g²): envelope-spectrum energy around the first three harmonics of each
  defect frequency (band-pass to the demodulation band, Hilbert envelope, FFT):
  an outer-race, inner-race or ball defect hits once per defect period, so the
  envelope repeats at that frequency. ``x_envelope_defect_energy`` is the
  largest of the three: the single "how much periodic impacting" score.

Defect frequencies come from shaft speed and bearing geometry (Harris, *Rolling
Bearing Analysis*), with ``r = (d / D) cos(contact angle)``, ``n`` rolling elements,
``d`` ball diameter, ``D`` pitch diameter, ``f_r`` shaft frequency:

- BPFO = n/2 (1 - r) f_r      (ball pass, outer race)
- BPFI = n/2 (1 + r) f_r      (ball pass, inner race)
- BSF  = D/d (1 - r²) f_r     (ball defect rate: twice the ball spin, one hit on each race;
  the convention of the CWRU data's documentation)
- FTF  = 1/2 (1 - r) f_r      (cage)

For the 6205-2RS drive-end bearing of the CWRU rig these give the published multiples:

>>> orders = SKF_6205.defect_orders()
>>> round(orders.bpfo, 3), round(orders.bpfi, 3), round(orders.bsf, 3), round(orders.ftf, 4)
(3.585, 5.415, 4.713, 0.3983)

Validated on the CWRU bearing data (``tests/edge/test_features.py`` prints the table):
every faulty bearing's envelope defect energy and high-band RMS stand
far above the healthy one's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]

#: Harmonics of each defect frequency summed into its envelope energy.
HARMONICS = (1, 2, 3)
#: Half-width of the window around each harmonic: the larger of 2 Hz and 2 % of the
#: frequency, which absorbs slip and a few rpm of speed error.
MIN_HALF_WIDTH_HZ = 2.0
RELATIVE_HALF_WIDTH = 0.02
#: Default demodulation band (Hz): above the running-speed harmonics, below 12 kHz's Nyquist.
DEFAULT_BAND_HZ = (2000.0, 5000.0)
#: Shortest burst worth analysing (samples): shorter ones cannot resolve the defect lines.
MIN_SAMPLES = 1024


@dataclass(frozen=True, slots=True)
class DefectOrders:
    """Defect frequencies as multiples of shaft speed."""

    bpfo: float
    bpfi: float
    bsf: float
    ftf: float


@dataclass(frozen=True, slots=True)
class BearingGeometry:
    """What the defect frequencies depend on (millimetres and degrees)."""

    balls: int
    ball_diameter_mm: float
    pitch_diameter_mm: float
    contact_angle_deg: float = 0.0

    def defect_orders(self) -> DefectOrders:
        r = (self.ball_diameter_mm / self.pitch_diameter_mm) * math.cos(
            math.radians(self.contact_angle_deg)
        )
        ratio = self.pitch_diameter_mm / self.ball_diameter_mm
        return DefectOrders(
            bpfo=self.balls / 2 * (1 - r),
            bpfi=self.balls / 2 * (1 + r),
            bsf=ratio * (1 - r * r),
            ftf=(1 - r) / 2,
        )


#: SKF 6205-2RS JEM: 9 balls of 0.3126 in on a 1.537 in pitch (CWRU drive end; also a
#: common washer drum bearing size), the default when a burst names no geometry.
SKF_6205 = BearingGeometry(balls=9, ball_diameter_mm=7.94, pitch_diameter_mm=39.04)


class FeatureError(ValueError):
    """A burst that cannot be analysed (too short, bad rate, no speed)."""


def vibration_features(
    samples: FloatArray,
    sample_rate_hz: float,
    shaft_rpm: float,
    geometry: BearingGeometry = SKF_6205,
    band_hz: tuple[float, float] = DEFAULT_BAND_HZ,
) -> dict[str, float]:
    """The ``x_`` readings for one burst, in g (or g² for envelope energies).

    >>> rng = np.random.default_rng(0)
    >>> quiet = rng.normal(0.0, 0.05, 12000)
    >>> f = vibration_features(quiet, 12000, 1797)
    >>> round(f["x_vibration_kurtosis"], 1), round(f["x_vibration_rms_g"], 3)
    (3.0, 0.05)
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < MIN_SAMPLES:
        raise FeatureError(f"burst has {x.size} samples, need at least {MIN_SAMPLES}")
    if not np.all(np.isfinite(x)):
        raise FeatureError("burst contains NaN or infinite samples")
    if not (sample_rate_hz > 0 and math.isfinite(sample_rate_hz)):
        raise FeatureError(f"sample rate must be positive, got {sample_rate_hz}")
    if not (shaft_rpm > 0 and math.isfinite(shaft_rpm)):
        raise FeatureError(f"shaft speed must be positive, got {shaft_rpm} rpm")
    x = x - x.mean()
    m2 = float(np.mean(x * x))
    rms = math.sqrt(m2)
    peak = float(np.max(np.abs(x)))
    out = {
        "x_vibration_rms_g": rms,
        "x_vibration_peak_g": peak,
        "x_vibration_crest_factor": peak / rms if rms > 0 else 0.0,
        # Pearson's kurtosis (3 for a Gaussian), the classic bearing-impact indicator.
        "x_vibration_kurtosis": float(np.mean(x**4)) / (m2 * m2) if m2 > 0 else 0.0,
    }
    analytic = _band_analytic(x, sample_rate_hz, band_hz)
    out["x_vibration_hf_rms_g"] = float(np.sqrt(np.mean(analytic.real**2)))
    envelope = np.abs(analytic)
    out.update(_envelope_energies(envelope, sample_rate_hz, shaft_rpm / 60.0, geometry))
    # Never forward a non-finite number: the contract refuses it.
    return {name: value for name, value in out.items() if math.isfinite(value)}


def _band_analytic(
    x: FloatArray, rate: float, band_hz: tuple[float, float]
) -> npt.NDArray[np.complexfloating]:
    """The analytic signal of ``x`` band-limited to ``band_hz``, in one FFT round trip.

    Zeroing the spectrum outside the band and the negative frequencies (doubling the
    positive ones) is a zero-phase band-pass and a Hilbert transform at once; plain
    numpy keeps the agent's start-up fast (importing ``scipy.signal`` takes seconds on
    a small home hub).
    """
    nyquist = rate / 2
    low = max(1.0, band_hz[0])
    high = min(band_hz[1], 0.95 * nyquist)
    if low >= high:  # a low sample rate: demodulate the top half of what we have
        low, high = 0.5 * nyquist, 0.95 * nyquist
    n = x.size
    spectrum = np.fft.fft(x)
    freqs = np.fft.fftfreq(n, 1.0 / rate)
    keep = (freqs >= low) & (freqs <= high)  # positive frequencies in the band only
    analytic: npt.NDArray[np.complexfloating] = np.fft.ifft(np.where(keep, 2.0 * spectrum, 0))
    return analytic


def _envelope_energies(
    envelope: FloatArray, rate: float, shaft_hz: float, geometry: BearingGeometry
) -> dict[str, float]:
    envelope = envelope - envelope.mean()
    n = envelope.size
    window = np.hanning(n)
    # Single-sided amplitude spectrum (g), corrected for the Hann window's gain.
    amplitude = np.abs(np.fft.rfft(envelope * window)) * 2.0 / window.sum()
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    orders = geometry.defect_orders()
    energies: dict[str, float] = {}
    for name, order in (("bpfo", orders.bpfo), ("bpfi", orders.bpfi), ("bsf", orders.bsf)):
        energy = 0.0
        for harmonic in HARMONICS:
            centre = harmonic * order * shaft_hz
            half_width = max(MIN_HALF_WIDTH_HZ, RELATIVE_HALF_WIDTH * centre)
            near = np.abs(freqs - centre) <= half_width
            energy += float(np.sum(amplitude[near] ** 2))
        energies[f"x_envelope_{name}_energy"] = energy
    energies["x_envelope_defect_energy"] = max(energies.values())
    return energies
