"""The appliance models and regions a simulated fleet is drawn from.

Models differ in the nominal parameters a detector must not confuse with faults:
capacity, refrigerant, fan speeds, drum size, heater power, spin speed. Regions
differ in climate (annual mean and swing, daily swing, humidity of heat waves)
and in mains-water temperature, which is what a washer's heater has to lift.

>>> AC_MODELS[0].refrigerant
'R32'
>>> REGIONS["CN-32"].annual_mean_c
16.0
>>> round(sum(AC_REGION_WEIGHTS.values()), 1)
12.5
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AcModel:
    """An inverter split unit's nominal parameters (cooling at 35 °C outdoor, 27 °C room)."""

    brand: str
    model: str
    refrigerant: str
    capacity_w: float
    hz_min: float
    hz_max: float
    hz_nominal: float
    indoor_fan_max_rpm: float
    outdoor_fan_max_rpm: float
    firmware: str
    serial_prefix: str


@dataclass(frozen=True, slots=True)
class WasherModel:
    """A front loader's nominal parameters."""

    brand: str
    model: str
    drum_kg: float
    max_spin_rpm: float
    heater_w: float
    fill_l_per_min: float
    drain_l_per_min: float
    firmware: str
    serial_prefix: str


@dataclass(frozen=True, slots=True)
class Region:
    """Climate of an ISO 3166-2 subdivision, northern or southern hemisphere."""

    code: str
    postcode: str
    annual_mean_c: float
    annual_swing_c: float
    daily_swing_c: float
    southern: bool
    mains_water_mean_c: float
    mains_water_swing_c: float
    utc_offset_h: float


AC_MODELS: tuple[AcModel, ...] = (
    AcModel("Aurora", "AUR-S25-INV", "R32", 2600.0, 18, 95, 55, 1250, 850, "3.4.1", "A25"),
    AcModel("Aurora", "AUR-S35-INV", "R32", 3500.0, 18, 100, 60, 1350, 900, "3.4.1", "A35"),
    AcModel("Polaris", "PX-12HR", "R410A", 3500.0, 20, 90, 58, 1300, 880, "1.9.0", "PX12"),
    AcModel("Polaris", "PX-18HR", "R410A", 5200.0, 20, 92, 60, 1400, 950, "1.9.0", "PX18"),
    AcModel("Kestrel", "KS-50V", "R32", 5000.0, 15, 105, 62, 1450, 980, "7.2", "KS50"),
)

WASHER_MODELS: tuple[WasherModel, ...] = (
    WasherModel("Aurora", "AUR-W7-1200", 7.0, 1200.0, 1950.0, 12.0, 24.0, "2.1.0", "W7"),
    WasherModel("Aurora", "AUR-W9-1400", 9.0, 1400.0, 2100.0, 13.0, 26.0, "2.1.0", "W9"),
    WasherModel("Brightwash", "BW-8414", 8.0, 1400.0, 2000.0, 11.0, 22.0, "5.0.3", "B8"),
    WasherModel("Brightwash", "BW-6010", 6.0, 1000.0, 1800.0, 10.0, 20.0, "5.0.3", "B6"),
)

REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("CN-32", "210000", 16.0, 12.0, 7.0, False, 17.0, 8.0, 8.0),
        Region("CN-44", "510000", 22.5, 8.0, 6.0, False, 22.0, 5.0, 8.0),
        Region("ES-AN", "41001", 18.5, 8.5, 11.0, False, 18.0, 5.0, 1.0),
        Region("IT-62", "00184", 16.0, 8.5, 9.0, False, 15.0, 5.0, 1.0),
        Region("DE-BY", "80331", 8.5, 9.5, 8.0, False, 11.0, 4.5, 1.0),
        Region("US-TX", "73301", 20.5, 9.5, 10.0, False, 21.0, 7.0, -6.0),
        Region("IN-MH", "400001", 27.5, 2.5, 6.0, False, 27.0, 2.0, 5.5),
        Region("AU-NSW", "2000", 18.5, 5.0, 7.0, True, 19.0, 4.0, 10.0),
    )
}

#: Where air conditioners are (households in hot climates own more of them); washers
#: are spread evenly.
AC_REGION_WEIGHTS: dict[str, float] = {
    "CN-32": 2.0,
    "CN-44": 2.0,
    "US-TX": 2.0,
    "IN-MH": 2.0,
    "ES-AN": 1.5,
    "IT-62": 1.5,
    "DE-BY": 0.5,
    "AU-NSW": 1.0,
}
