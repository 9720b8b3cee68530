"""Saturation pressure of R32 and R410A from a curve fitted to tabulated data.

The cycle model needs pressures for two things a detector sees: the discharge
temperature (compression from suction to condensing pressure) and the
high-pressure switch (about 4.15 MPa on both refrigerants). A quadratic in
temperature for ``ln p`` fits the tables within about 2 % from -30 to 70 °C.

>>> round(float(saturation_kpa(np.array([0.0]), "R410A")[0]))
788
>>> round(float(saturation_c(np.array([2420.0]), "R410A")[0]), 1)
39.5
>>> bool(saturation_kpa(np.array([40.0]), "R32")[0] > saturation_kpa(np.array([40.0]), "R410A")[0])
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_TABLE_T_C = np.array([-30.0, -20, -10, 0, 10, 20, 30, 40, 50, 60, 70])
_TABLE_KPA = {
    "R410A": np.array([270.0, 400, 573, 798, 1085, 1444, 1885, 2420, 3062, 3836, 4790]),
    "R32": np.array([273.0, 405, 582, 813, 1107, 1475, 1928, 2478, 3140, 3923, 4850]),
}


@dataclass(frozen=True, slots=True)
class RefrigerantProps:
    """Fitted ``ln p = a + b T + c T^2`` plus what compression does to the gas."""

    name: str
    a: float
    b: float
    c: float
    #: Effective polytropic exponent (k-1)/k with compressor losses: R32 runs hotter.
    discharge_exponent: float
    high_pressure_kpa: float = 4150.0


def _fit(name: str, exponent: float) -> RefrigerantProps:
    c, b, a = np.polyfit(_TABLE_T_C, np.log(_TABLE_KPA[name]), 2)
    return RefrigerantProps(name, float(a), float(b), float(c), exponent)


PROPS: dict[str, RefrigerantProps] = {
    "R410A": _fit("R410A", 0.18),
    "R32": _fit("R32", 0.22),
}


def saturation_kpa(t_c: FloatArray, refrigerant: str) -> FloatArray:
    """Saturation pressure (kPa absolute) at ``t_c``."""
    p = PROPS[refrigerant]
    return np.exp(p.a + p.b * t_c + p.c * t_c * t_c)


def saturation_c(p_kpa: FloatArray, refrigerant: str) -> FloatArray:
    """Saturation temperature (°C) at ``p_kpa``: the fitted quadratic, inverted."""
    p = PROPS[refrigerant]
    rhs = p.a - np.log(p_kpa)
    disc = np.maximum(p.b * p.b - 4.0 * p.c * rhs, 0.0)
    return (-p.b + np.sqrt(disc)) / (2.0 * p.c)
