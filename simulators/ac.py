"""Inverter split air conditioners, stepped together as numpy arrays (one row per unit).

Per step (one telemetry interval of device time, 30 to 300 s) every unit:

1. decides what the household wants (mode, setpoint, schedule, open windows);
2. runs its inverter controller: a PI loop on the room error sets compressor Hz,
   a thermostat stops the compressor below the setpoint, protections droop Hz
   near the high-pressure and discharge limits and trip beyond them;
3. solves a quasi-steady vapour-compression cycle: the evaporating temperature
   balances the compressor's pumping capacity (Hz x suction density from the
   fitted saturation curve x volumetric efficiency) against the air-side heat
   transfer ``UA (T_air - T_evap)``; the condensing temperature rejects the
   evaporator heat plus the compressor work; the EEV holds superheat until it
   runs out of travel; discharge temperature follows polytropic compression;
4. moves the room temperature exactly (exponential step) under envelope, sun,
   people, window and the unit's delivered capacity, so any interval is stable;
5. reads its sensors: noise, quantisation, rare one-sample glitches, and the
   injected sensor faults.

Faults act on physical parameters, never on readings directly (except sensor
faults): charge deficit starves the evaporator once the EEV saturates, fouling
and a fading outdoor fan cut the condenser's UA, a dirty filter cuts indoor
airflow, compressor wear cuts volumetric efficiency. The customer notices when
the room stays > 2 K off the setpoint for an hour at full compressor speed, or
at a protective trip; the unit then reports an error code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from simulators.catalog import AcModel
from simulators.refrigerant import PROPS
from simulators.variation import AC_SPREADS, draw_constants

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

MODE_OFF, MODE_COOL, MODE_HEAT, MODE_DRY, MODE_FAN = 0, 1, 2, 3, 4
MODE_NAMES = ("off", "cool", "heat", "dry", "fan")

#: Reading names in the order of the rows of :attr:`AcStep.values`.
AC_FIELDS = (
    "setpoint_c",
    "room_temp_c",
    "supply_temp_c",
    "outdoor_temp_c",
    "indoor_coil_temp_c",
    "outdoor_coil_temp_c",
    "suction_temp_c",
    "discharge_temp_c",
    "compressor_hz",
    "compressor_current_a",
    "eev_steps",
    "indoor_fan_rpm",
    "outdoor_fan_rpm",
    "power_w",
)
_FIELD = {name: i for i, name in enumerate(AC_FIELDS)}
#: Thermistors a sensor fault can hit, as row numbers of the readings.
SENSOR_ROWS = {
    name: _FIELD[name]
    for name in (
        "room_temp_c",
        "indoor_coil_temp_c",
        "outdoor_coil_temp_c",
        "suction_temp_c",
        "discharge_temp_c",
    )
}

# Error codes the units show (and publish as contract ``error`` events).
CODE_SHORTFALL = "E20"
CODE_HIGH_PRESSURE = "E1"
CODE_DISCHARGE = "E3"
CODE_FREEZE = "E5"
CODE_SENSOR = "E6"
CODE_REFRIGERANT = "E4"
CODE_COMPRESSOR = "E7"
CODE_FAN_LOCK = "E8"
ERROR_TEXT = {
    CODE_SHORTFALL: "room not reaching setpoint at full capacity",
    CODE_HIGH_PRESSURE: "high pressure protection",
    CODE_DISCHARGE: "discharge temperature protection",
    CODE_FREEZE: "indoor coil anti-freeze protection",
    CODE_SENSOR: "thermistor open circuit",
    CODE_REFRIGERANT: "refrigerant shortage",
    CODE_COMPRESSOR: "compressor overload protection",
    CODE_FAN_LOCK: "outdoor fan motor locked",
}


def _clip(x: FloatArray, lo: FloatArray | float, hi: FloatArray | float) -> FloatArray:
    """``np.clip`` without its Python overhead (it dominates on fleets of a few units)."""
    return np.minimum(np.maximum(x, lo), hi)


_SHORTFALL_S = 3600.0
_LOCKOUT_S = 180.0
_DEFROST_S = 360.0
_T_EVAP_REF = 10.0


@dataclass
class AcFaultInputs:
    """Physical degradation per unit for this step (0 = healthy)."""

    charge_deficit: FloatArray
    condenser_fouling: FloatArray
    fan_health: FloatArray  # 1 healthy, < 0.45 stalls, 0 dead
    filter_block: FloatArray
    compressor_wear: FloatArray
    #: Sensor faults: reading row (-1 none), mode (1 stuck, 2 drift, 3 open), drift in K.
    sensor_row: IntArray
    sensor_mode: IntArray
    sensor_drift_k: FloatArray

    @classmethod
    def healthy(cls, n: int) -> AcFaultInputs:
        return cls(
            np.zeros(n),
            np.zeros(n),
            np.ones(n),
            np.zeros(n),
            np.zeros(n),
            np.full(n, -1, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros(n),
        )


@dataclass
class AcStep:
    """What one step produced: readings (rows = :data:`AC_FIELDS`, NaN = null) and events."""

    mode: IntArray
    values: FloatArray  # (fields, units)
    #: (unit, code) errors the units raised this step.
    errors: list[tuple[int, str]]
    #: (unit, action, value) user actions this step (setpoint, mode).
    user: list[tuple[int, str, float | str]]
    #: Ground-truth internals for tests and evaluation (not published).
    truth: dict[str, FloatArray] = field(default_factory=dict)


class AcFleet:
    """All air conditioners of a run, as arrays; :meth:`step` advances them by ``dt``."""

    def __init__(
        self,
        models: list[AcModel],
        region_idx: IntArray,
        utc_offset_h: FloatArray,
        rng: np.random.Generator,
        new_unit: BoolArray,
        *,
        windows_per_week: float = 1.0,
        glitch_rate: float = 0.0005,
        physics: dict[str, FloatArray] | None = None,
    ) -> None:
        """``physics``: the units' constants from :mod:`simulators.variation` (nominal if None)."""
        n = len(models)
        self.n = n
        self.region_idx = region_idx
        self.utc_offset_h = utc_offset_h
        self.rng = rng
        self.glitch_rate = glitch_rate
        self.windows_per_week = windows_per_week
        f = np.array
        if physics is None:
            physics = draw_constants(AC_SPREADS, 0.0, [0] * n, list(range(n)), seed=0, stream=0)
        k = physics
        self.k = k
        self.cap_w = f([m.capacity_w for m in models])
        self.hz_min = f([m.hz_min for m in models], dtype=np.float64)
        self.hz_max = f([m.hz_max for m in models], dtype=np.float64)
        self.hz_nom = f([m.hz_nominal for m in models], dtype=np.float64)
        self.in_fan_max = (
            f([m.indoor_fan_max_rpm for m in models], dtype=np.float64) * k["fan_rpm_k"]
        )
        self.out_fan_max = (
            f([m.outdoor_fan_max_rpm for m in models], dtype=np.float64) * k["fan_rpm_k"]
        )
        self.is_r32 = f([m.refrigerant == "R32" for m in models])
        r32, r410 = PROPS["R32"], PROPS["R410A"]
        self._sat = tuple(np.where(self.is_r32, getattr(r32, k), getattr(r410, k)) for k in "abc")
        self.exponent = (
            np.where(self.is_r32, r32.discharge_exponent, r410.discharge_exponent)
            * k["discharge_exp"]
        )
        self.eta = np.where(self.is_r32, 0.60, 0.57) * rng.uniform(0.97, 1.03, n) * k["eta"]
        # Heat exchangers sized from the nominal capacity (unit-to-unit spread of a few %).
        self.ua_in = self.cap_w / 13.0 * rng.uniform(0.95, 1.05, n) * k["ua_in"]
        self.ua_out = self.cap_w * 1.3 / 10.0 * rng.uniform(0.95, 1.05, n) * k["ua_out"]
        self.eev_k = 260.0 * rng.uniform(0.92, 1.08, n) * k["eev_k"]
        # The room: effective envelope UA, thermal mass, sun and people, sized to the unit.
        sizing = rng.uniform(0.5, 0.8, n)
        design_load = sizing * self.cap_w * k["room_load_k"]
        self.ua_room = np.maximum(25.0, (0.7 * design_load - 180.0) / 8.0)
        self.c_room = self.ua_room * rng.uniform(1.5, 3.5, n) * 3600.0  # tau of 1.5-3.5 h
        self.solar_w = 0.25 * design_load * rng.uniform(0.5, 1.3, n)
        self.ua_window = self.ua_room * rng.uniform(1.5, 3.0, n)
        # Households: schedule, setpoints, when they switch to cooling or heating.
        self.profile = rng.integers(0, 4, n)
        self.cool_sp = np.round(rng.uniform(22.0, 26.5, n) * 2) / 2
        self.heat_sp = np.round(rng.uniform(19.0, 23.0, n) * 2) / 2
        self.cool_above = rng.uniform(18.0, 22.0, n)
        self.heat_below = rng.uniform(11.0, 15.5, n)
        self.humid_region = np.zeros(n, dtype=bool)
        self.sensor_bias = rng.normal(0.0, 0.15, (len(AC_FIELDS), n)) * k["bias_k"]
        # Brand-new units run in: volumetric efficiency a few % low for their first weeks.
        self.new_unit = new_unit
        self.run_in = np.where(new_unit, rng.uniform(0.02, 0.05, n), 0.0)
        # State.
        self.t_room = np.full(n, 24.0)
        self.t_room_set = False
        self.hz = np.zeros(n)
        self.integ = np.zeros(n)
        self.comp_on = np.zeros(n, dtype=bool)
        self.lockout_until = np.zeros(n)
        self.hz_cap = self.hz_max.copy()
        self.frost = np.zeros(n)
        self.defrost_left = np.zeros(n)
        self.shortfall_s = np.zeros(n)
        self.starve_s = np.zeros(n)
        self.motor_hot_s = np.zeros(n)
        self.prev_off_by = np.zeros(n)
        self.freeze_s = np.zeros(n)
        self.last_error_s = np.full(n, -1e12)
        self.setpoint = np.full(n, np.nan)
        self.mode = np.zeros(n, dtype=np.int64)
        self.t_evap = np.full(n, 10.0)
        self.t_cond = np.full(n, 40.0)
        self.stuck_value = np.full(n, np.nan)
        self.window_until = np.zeros(n)
        self.day_state_for = -1
        self.day_shift_h = np.zeros(n)
        self.day_skip = np.zeros(n, dtype=bool)
        self.day_sp_delta = np.zeros(n)
        self.day_sp_hour = np.zeros(n)
        self.day_alt_mode = np.zeros(n, dtype=np.int64)
        self.last_day_mode = np.zeros(n, dtype=np.int64)
        self._derive_constants()

    def _derive_constants(self) -> None:
        """Constants the step needs in derived form, computed once.

        Spans are written as today's nominal minus the drawn offset (not ``1 - base``),
        so at zero variation every product is bit-for-bit today's.
        """
        k = self.k
        self.in_fan_span = 0.5 - (k["in_fan_base"] - 0.5)
        self.out_fan_span = 0.55 - (k["out_fan_base"] - 0.45)
        speed_ctl = k["fan_speed_ctl"] > 0.5
        # Against a dirty filter a torque-controlled fan speeds up and draws a little more
        # power; a speed-controlled one holds its rpm and draws more power to do it.
        self.filter_rpm_gain = np.where(speed_ctl, 0.0, k["filter_rpm_k"])
        self.filter_fan_w_gain = np.where(speed_ctl, k["speed_fan_w_k"], k["filter_fan_w_k"])
        self.filter_airflow = np.minimum(k["filter_airflow_k"], 0.95)
        self.air_mass_k = 0.26 * self.cap_w / 3500.0 * k["airflow_k"]
        self._flash_work = bool(np.any(k["flash_work"] != 0.0))
        self._air_limit = bool(
            np.any(k["ua_in"] != 1.0) or np.any(k["shr"] != 0.72) or np.any(k["airflow_k"] != 1.0)
        )
        self._placed = bool(
            np.any(k["coil_in_place"] != 0.0)
            or np.any(k["coil_out_place"] != 0.0)
            or np.any(k["suction_offset_c"] != 0.0)
            or np.any(k["discharge_place"] != 0.0)
        )
        self._coarse = bool(
            np.any(k["temp_step"] != 0.1)
            or np.any(k["current_step"] != 0.01)
            or np.any(k["power_step"] != 1.0)
            or np.any(k["rpm_step"] != 10.0)
        )

    # -- household -----------------------------------------------------------------

    def _new_day(self, day: int) -> None:
        """Draw today's variations of each household's routine."""
        rng = self.rng
        n = self.n
        self.day_state_for = day
        self.day_shift_h = rng.normal(0.0, 0.7, n)
        self.day_skip = rng.random(n) < 0.08
        change = rng.random(n) < 0.25
        self.day_sp_delta = np.where(change, rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], n), 0.0)
        self.day_sp_hour = rng.uniform(0.0, 24.0, n)
        alt = rng.random(n)
        self.day_alt_mode = np.where(
            alt < 0.05, MODE_DRY, np.where(alt < 0.07, MODE_FAN, MODE_COOL)
        ).astype(np.int64)

    def _wanted(
        self, t_s: float, dt: float, daily_mean: FloatArray, outdoor: FloatArray
    ) -> tuple[IntArray, FloatArray, BoolArray]:
        """Mode, setpoint and presence the household wants now."""
        day = int(t_s // 86400.0)
        if day != self.day_state_for:
            self._new_day(day)
        hour = ((t_s / 3600.0 + self.utc_offset_h) % 24.0 + self.day_shift_h) % 24.0
        prof = self.profile
        evenings = (hour >= 17.0) | (hour < 7.5)
        home_all_day = (hour >= 8.0) & (hour < 23.5)
        nights = (hour >= 21.0) | (hour < 7.0)
        present = np.where(
            prof == 0,
            evenings,
            np.where(prof == 1, home_all_day, np.where(prof == 2, nights, True)),
        )
        present &= ~self.day_skip
        season = np.where(
            daily_mean > self.cool_above,
            MODE_COOL,
            np.where(daily_mean < self.heat_below, MODE_HEAT, MODE_OFF),
        )
        season = np.where((season == MODE_OFF) & (outdoor > 26.0), MODE_COOL, season)
        season = np.where(season == MODE_COOL, self.day_alt_mode, season)
        mode = np.where(present, season, MODE_OFF).astype(np.int64)
        local_h = (t_s / 3600.0 + self.utc_offset_h) % 24.0
        delta = np.where(local_h >= self.day_sp_hour, self.day_sp_delta, 0.0)
        setpoint = np.where(mode == MODE_HEAT, self.heat_sp - delta, self.cool_sp + delta)
        # Windows opened now and then while someone is home (longer when mild outside).
        p_open = self.windows_per_week / 7.0 / 14.0 * dt / 3600.0
        opening = present & (self.rng.random(self.n) < p_open)
        self.window_until = np.where(
            opening, t_s + self.rng.uniform(900.0, 4800.0, self.n), self.window_until
        )
        return mode, setpoint, present

    # -- one step ------------------------------------------------------------------

    def step(
        self,
        t_s: float,
        dt: float,
        *,
        outdoor: FloatArray,
        sun: FloatArray,
        daily_mean: FloatArray,
        powered: BoolArray,
        faults: AcFaultInputs,
    ) -> AcStep:
        n = self.n
        rng = self.rng
        noise = rng.normal(0.0, 1.0, (len(AC_FIELDS), n))
        glitch = rng.random((len(AC_FIELDS), n)) < self.glitch_rate
        if not self.t_room_set:
            self.t_room = _clip(outdoor + rng.normal(0.0, 1.0, n), 16.0, 30.0)
            self.t_room_set = True
        want_mode, want_sp, _present = self._wanted(t_s, dt, daily_mean, outdoor)
        want_mode = np.where(powered, want_mode, MODE_OFF)
        changed_mode = np.nonzero((want_mode != self.mode) & powered)[0]
        user: list[tuple[int, str, float | str]] = [
            (i, "mode", MODE_NAMES[int(want_mode[i])]) for i in changed_mode.tolist()
        ]
        changed_sp = np.nonzero(
            (want_mode != MODE_OFF)
            & (want_mode == self.mode)
            & (np.abs(want_sp - np.where(np.isnan(self.setpoint), want_sp, self.setpoint)) > 0.01)
        )[0]
        user.extend((i, "setpoint", float(want_sp[i])) for i in changed_sp.tolist())
        self.mode = want_mode
        self.setpoint = want_sp
        mode = want_mode
        cooling = (mode == MODE_COOL) | (mode == MODE_DRY)
        heating = mode == MODE_HEAT
        conditioning = cooling | heating

        # -- controller --
        err = np.where(heating, want_sp - self.t_room, self.t_room - want_sp)
        locked = t_s < self.lockout_until
        starting = conditioning & ~self.comp_on & (err > 0.3) & ~locked
        stopping = self.comp_on & ((err < -1.0) | ~conditioning | locked)
        self.comp_on = (self.comp_on | starting) & ~stopping
        self.integ = np.where(self.comp_on, self.integ, 0.3 * self.hz_nom)
        k = self.k
        kp = k["kp"]
        ki = k["ki"]
        hz_cmd = kp * err + self.integ
        hz_ceiling = np.where(mode == MODE_DRY, np.minimum(45.0, self.hz_max), self.hz_max)
        saturated_hi = (hz_cmd >= hz_ceiling) & (err > 0)
        saturated_lo = (hz_cmd <= self.hz_min) & (err < 0)
        self.integ = np.where(
            self.comp_on & ~saturated_hi & ~saturated_lo,
            _clip(self.integ + ki * err * dt, 0.0, self.hz_max),
            self.integ,
        )
        hz = np.where(self.comp_on, _clip(hz_cmd, self.hz_min, hz_ceiling), 0.0)
        hz = np.where(starting, np.minimum(hz, 0.6 * self.hz_nom), hz)
        hz = np.round(hz)
        defrosting = heating & self.comp_on & (self.defrost_left > 0)
        hz = np.where(defrosting, np.round(0.7 * self.hz_nom), hz)
        running = hz > 0

        # -- fans --
        demand = _clip(err / 2.0, 0.0, 1.0)
        in_cmd = np.where(
            mode == MODE_OFF,
            0.0,
            np.where(
                mode == MODE_DRY,
                0.4,
                np.where(
                    mode == MODE_FAN,
                    0.7,
                    np.where(
                        running,
                        k["in_fan_base"]
                        + self.in_fan_span * np.maximum(demand, self.hz / self.hz_max),
                        0.4,
                    ),
                ),
            ),
        )
        in_cmd = np.where(defrosting, 0.0, in_cmd)
        in_rpm = in_cmd * self.in_fan_max * (1.0 + self.filter_rpm_gain * faults.filter_block)
        airflow_in = in_cmd * (1.0 - self.filter_airflow * faults.filter_block)
        out_cmd = np.where(
            running & ~defrosting, k["out_fan_base"] + self.out_fan_span * hz / self.hz_max, 0.0
        )
        fan_alive = faults.fan_health >= 0.45
        out_rpm = out_cmd * self.out_fan_max * np.where(fan_alive, faults.fan_health, 0.0)
        airflow_out = np.maximum(out_rpm / self.out_fan_max, 0.12)

        # -- refrigerant cycle --
        ua_in = self.ua_in * np.maximum(airflow_in, 0.05) ** k["ua_in_exp"]
        if self._air_limit:
            # A coil cannot take the air below its own temperature: its conductance is
            # bounded by the air stream's heat capacity (effectiveness below one), which
            # matters for a large coil on a slow fan.
            air_w_per_k = self.air_mass_k * np.maximum(airflow_in, 0.05) * 1005.0
            ua_in = np.minimum(ua_in, 0.85 * air_w_per_k / k["shr"])
        ua_out = self.ua_out * airflow_out ** k["ua_out_exp"] * (1.0 - faults.condenser_fouling)
        frost_factor = 1.0 / (1.0 + 0.8 * self.frost)
        ua_out_heat = (
            self.ua_out
            * airflow_out ** k["ua_out_exp"]
            * (1.0 - k["fouling_heat_k"] * faults.condenser_fouling)
            * frost_factor
        )
        ua_evap = np.where(heating, ua_out_heat, ua_in)
        ua_cond = np.where(heating, ua_in, ua_out)
        air_evap = np.where(heating, outdoor, self.t_room)
        air_cond = np.where(heating, self.t_room, outdoor)
        # The same charge lost starves a unit with a small receiver sooner.
        deficit = faults.charge_deficit * k["charge_k"]
        # Flash gas at the EEV inlet as subcooling is lost: the valve needs more travel.
        flash = 1.0 + 3.0 * deficit + 12.0 * deficit**2
        wear_eff = 1.0 - k["wear_q_k"] * faults.compressor_wear
        t_e = np.minimum(self.t_evap, air_evap - 0.5)
        t_c = np.maximum(self.t_cond, air_cond + 0.5)
        a, b, c = self._sat
        starvation = np.zeros(n)
        t_dis_est = np.full(n, 60.0)
        q_e = np.zeros(n)
        w = np.zeros(n)
        hz_req = hz
        hz_lim = np.minimum(hz_req, self.hz_cap + 6.0 * dt / 60.0)
        for _ in range(7):
            # Firmware droops the compressor within seconds near the pressure and
            # discharge limits, so the droop acts inside the steady-state solution.
            over = np.maximum(6.0 * (t_c - k["cond_droop_c"]), 3.0 * (t_dis_est - k["dis_droop_c"]))
            hz_lim = _clip(
                hz_lim - 0.5 * np.maximum(over, -8.0), self.hz_min, np.maximum(hz_req, self.hz_min)
            )
            hz = np.where(running & ~defrosting, np.round(hz_lim), hz_req)
            hz = np.where(running, hz, 0.0)
            q0 = self.cap_w * hz / self.hz_nom * wear_eff
            p_e = np.exp(a + b * t_e + c * t_e * t_e)
            p_c = np.exp(a + b * t_c + c * t_c * t_c)
            ratio = p_c / p_e
            vol_eff = _clip(1.0 - k["vol_eff_slope"] * (ratio - 2.8), 0.5, 1.1) * (
                1.0 - self.run_in
            )
            # The EEV opens to hold superheat: it needs more travel as charge is lost
            # (flash gas at its inlet) and as the pressure difference shrinks.
            dp = np.maximum(p_c - p_e, 150.0)
            steps_req = self.eev_k * (q0 / self.cap_w) * np.sqrt(1800.0 / dp) * flash
            starvation = _clip(steps_req / 480.0 - 1.0, 0.0, 0.9) * (deficit > 0)
            ua_eff = ua_evap * (1.0 - 0.8 * starvation) * np.maximum(1.0 - 1.1 * deficit, 0.3)
            rho = p_e / np.exp(a + b * _T_EVAP_REF + c * _T_EVAP_REF**2)
            # Flash gas also cuts the refrigeration effect of every kilogram pumped.
            q_comp = q0 * rho * vol_eff * (1.0 - 0.6 * deficit)
            # Newton step on f(T_e) = Q_comp(T_e) - UA (T_air - T_e).
            dlnp = b + 2 * c * t_e
            f_val = q_comp - ua_eff * (air_evap - t_e)
            f_der = q_comp * dlnp + ua_eff
            t_e = np.where(running, t_e - f_val / np.maximum(f_der, 1.0), air_evap)
            t_e = np.minimum(t_e, air_evap - 0.2)
            q_e = np.maximum(ua_eff * (air_evap - t_e), 0.0)
            lift = np.maximum(t_c - t_e, 5.0)
            part_load = 1.0 - k["part_load"] * np.abs(hz / self.hz_nom - 0.8)
            cop_comp = self.eta * part_load * (t_e + 273.15) / (lift + 4.0)
            # Internal leakage recompresses gas: wasted work per unit of useful capacity.
            w = q_e / np.maximum(cop_comp, 0.5) * (1.0 + k["wear_w_k"] * faults.compressor_wear)
            if self._flash_work:
                w = w / (1.0 - k["flash_work"] * 0.6 * np.minimum(deficit, 1.0))
            t_c = np.where(running, air_cond + (q_e + w) / np.maximum(ua_cond, 1.0), air_cond)
            sh_est = k["sh_cool_k"] + 38.0 * starvation
            t_dis_est = (t_e + sh_est + 273.15) * np.maximum(ratio, 1.0) ** self.exponent - 273.15
            t_dis_est = t_dis_est + 4.0 * hz / self.hz_max + 25.0 * deficit
        self.hz = hz
        self.t_evap = np.where(running, t_e, air_evap)
        self.t_cond = np.where(running, t_c, air_cond)
        t_e = self.t_evap
        t_c = self.t_cond
        p_e = np.exp(a + b * t_e + c * t_e * t_e)
        p_c = np.exp(a + b * t_c + c * t_c * t_c)
        ratio = p_c / p_e
        sh_target = np.where(heating, k["sh_heat_k"], k["sh_cool_k"])
        superheat = (
            sh_target
            + 38.0 * starvation
            - k["filter_sh_k"] * faults.filter_block * cooling
            - k["wear_sh_k"] * faults.compressor_wear
            - k["fouling_sh_k"] * faults.condenser_fouling * cooling
            + 0.4 * noise[_FIELD["suction_temp_c"]]
        )
        superheat = np.where(starting, superheat + 6.0, superheat)
        superheat = np.maximum(superheat, 0.3)
        t_suction = t_e + superheat
        t_discharge = (t_suction + 273.15) * np.maximum(ratio, 1.0) ** self.exponent - 273.15
        t_discharge = (
            t_discharge
            + 4.0 * (hz / self.hz_max)
            - k["filter_dis_k"] * faults.filter_block * cooling
            + 25.0 * deficit
            - np.where(starting, 15.0, 0.0)
        )
        # Defrost: the cycle runs reversed with both fans stopped; the outdoor coil
        # warms through the melting point, the indoor coil cools, the room loses a little.
        progress = _clip(1.0 - self.defrost_left / _DEFROST_S, 0.0, 1.0)
        t_e = np.where(defrosting, 6.0 - 5.0 * progress, t_e)
        t_c = np.where(defrosting, 1.0 + 9.0 * progress, t_c)
        t_suction = np.where(defrosting, t_e + 2.0, t_suction)
        t_discharge = np.where(defrosting, 48.0 + 12.0 * progress, t_discharge)
        w = np.where(defrosting, 0.3 * self.cap_w, w)
        p_c = np.where(defrosting, 1000.0, p_c)
        dp = np.maximum(p_c - p_e, 150.0)
        eev_open = self.eev_k * (q0 / self.cap_w) * np.sqrt(1800.0 / dp) * flash
        eev_open = eev_open * (1.0 - k["filter_eev_k"] * faults.filter_block * cooling)
        eev = np.where(running, _clip(eev_open, 40.0, 480.0), np.where(conditioning, 100.0, 0.0))
        # Delivered capacity to the room: cooling removes Q_e, heating adds Q_e + W.
        q_cool = np.where(cooling & running & ~defrosting, q_e, 0.0)
        q_heat = np.where(heating & running & ~defrosting, q_e + w, 0.0)
        q_heat = np.where(defrosting, -0.15 * self.cap_w, q_heat)
        in_fan_w = k["in_fan_w"] * in_cmd**3 * (1.0 + self.filter_fan_w_gain * faults.filter_block)
        fan_w = 8.0 + in_fan_w + k["out_fan_w"] * out_cmd**3
        comp_w = np.where(running, w, 0.0)
        inverter = k["inverter_eff"]
        power = np.where(mode == MODE_OFF, k["standby_w"], comp_w / inverter + fan_w)
        current = np.where(running, comp_w / inverter / 230.0 / k["power_factor"], 0.0)
        air_mass = self.air_mass_k * np.maximum(airflow_in, 0.05)
        supply = np.where(
            running & cooling,
            self.t_room - k["shr"] * q_e / (air_mass * 1005.0),
            np.where(
                running & heating & ~defrosting,
                self.t_room + q_heat / (air_mass * 1005.0),
                self.t_room + 0.3,
            ),
        )
        supply = np.where(cooling & running, np.maximum(supply, t_e + 1.0), supply)

        # -- protections and what the customer notices --
        errors: list[tuple[int, str]] = []
        hp_limit = k["hp_limit_kpa"]
        self.hz_cap = np.where(running & ~defrosting, hz_lim, self.hz_max)
        trip_hp = running & ~defrosting & (p_c > hp_limit)
        trip_dis = running & ~defrosting & (t_discharge > k["dis_trip_c"]) & ~trip_hp
        fan_lock = running & ~defrosting & ~fan_alive & (out_cmd > 0)
        # Refrigerant shortage: superheat the EEV cannot pull down, for half an hour.
        starving = running & ~defrosting & ~starting & (superheat > 20.0)
        self.starve_s = np.where(starving, self.starve_s + dt, 0.0)
        trip_short = self.starve_s >= 1800.0
        # A worn compressor pumps less gas past its motor, so the motor runs hot at
        # high speed; the overload protector trips after half an hour of it.
        hot_motor = running & ~defrosting & (faults.compressor_wear * hz / self.hz_max > 0.5)
        self.motor_hot_s = np.where(hot_motor, self.motor_hot_s + dt, 0.0)
        trip_motor = self.motor_hot_s >= 1800.0
        freezing = running & cooling & (t_e < -0.5)
        self.freeze_s = np.where(freezing, self.freeze_s + dt, 0.0)
        trip_freeze = self.freeze_s >= 900.0
        full = running & (hz_req >= hz_ceiling - 1.0)
        off_by = np.where(heating, want_sp - self.t_room, self.t_room - want_sp)
        # Coming home to a hot room is not a complaint while the room is getting better.
        improving = (self.prev_off_by - off_by) > 0.5 * dt / 3600.0
        self.prev_off_by = off_by
        # Nobody calls about a cold room while they are airing it.
        airing = t_s < self.window_until
        short = full & (mode != MODE_DRY) & conditioning & (off_by > 2.0) & ~improving & ~airing
        self.shortfall_s = np.where(short, self.shortfall_s + dt, 0.0)
        shortfall = self.shortfall_s >= _SHORTFALL_S
        quiet = t_s - self.last_error_s > 6 * 3600.0
        for mask, code in (
            (fan_lock, CODE_FAN_LOCK),
            (trip_hp & ~fan_lock, CODE_HIGH_PRESSURE),
            (trip_dis & ~fan_lock, CODE_DISCHARGE),
            (trip_short, CODE_REFRIGERANT),
            (trip_motor, CODE_COMPRESSOR),
            (trip_freeze, CODE_FREEZE),
            (shortfall, CODE_SHORTFALL),
        ):
            hit = mask & quiet
            errors.extend((i, code) for i in np.nonzero(hit)[0].tolist())
            quiet = quiet & ~hit
            if code != CODE_SHORTFALL:
                self.lockout_until = np.where(mask, t_s + _LOCKOUT_S, self.lockout_until)
        for i, _ in errors:
            self.last_error_s[i] = t_s
        self.shortfall_s = np.where(shortfall, 0.0, self.shortfall_s)
        self.freeze_s = np.where(trip_freeze, 0.0, self.freeze_s)
        self.starve_s = np.where(trip_short, 0.0, self.starve_s)
        self.motor_hot_s = np.where(trip_motor, 0.0, self.motor_hot_s)

        # -- frost and defrost (heating) -----------------------------------------------------
        frosting = heating & running & ~defrosting & (t_e < -1.0)
        self.frost = np.where(frosting, self.frost + dt / 3600.0 * (0.4 + 0.05 * -t_e), self.frost)
        start_defrost = heating & running & ~defrosting & (self.frost > 1.0)
        self.defrost_left = np.where(start_defrost, _DEFROST_S, self.defrost_left)
        self.defrost_left = np.where(
            defrosting, np.maximum(self.defrost_left - dt, 0.0), self.defrost_left
        )
        self.frost = np.where(defrosting, 0.0, self.frost)

        # -- the room --
        window = t_s < self.window_until
        ua_total = self.ua_room + np.where(window, self.ua_window, 0.0)
        people = np.where(mode != MODE_OFF, 150.0, 60.0)
        # Other heating in the home keeps rooms from going much below 14 °C in winter.
        background = self.ua_room * np.maximum(14.0 - outdoor, 0.0) * 0.7
        gains = self.solar_w * sun + people + 40.0 + background - q_cool + q_heat
        t_eq = outdoor + gains / ua_total
        self.t_room = t_eq + (self.t_room - t_eq) * np.exp(-dt * ua_total / self.c_room)

        # -- coil thermistors by role --
        indoor_coil = np.where(heating, t_c, t_e)
        outdoor_coil = np.where(heating, t_e, t_c)
        indoor_coil = np.where(defrosting, t_e, indoor_coil)
        outdoor_coil = np.where(defrosting, t_c, outdoor_coil)
        idle_coil_in = self.t_room
        idle_coil_out = outdoor
        indoor_coil = np.where(running, indoor_coil, idle_coil_in)
        outdoor_coil = np.where(running, outdoor_coil, idle_coil_out)
        if self._placed:
            indoor_coil, outdoor_coil, t_suction, t_discharge = self._placement(
                running,
                indoor_coil=indoor_coil,
                outdoor_coil=outdoor_coil,
                t_suction=t_suction,
                t_discharge=t_discharge,
                outdoor=outdoor,
            )
        t_suction = np.where(running, t_suction, idle_coil_out)
        t_discharge = np.where(running, t_discharge, idle_coil_out + 3.0)

        # -- sensors --
        values = np.empty((len(AC_FIELDS), n))
        values[_FIELD["setpoint_c"]] = np.where(mode == MODE_OFF, np.nan, want_sp)
        values[_FIELD["room_temp_c"]] = self.t_room
        values[_FIELD["supply_temp_c"]] = np.where(mode == MODE_OFF, np.nan, supply)
        values[_FIELD["outdoor_temp_c"]] = outdoor
        values[_FIELD["indoor_coil_temp_c"]] = indoor_coil
        values[_FIELD["outdoor_coil_temp_c"]] = outdoor_coil
        values[_FIELD["suction_temp_c"]] = t_suction
        values[_FIELD["discharge_temp_c"]] = t_discharge
        values[_FIELD["compressor_hz"]] = hz
        values[_FIELD["compressor_current_a"]] = current
        values[_FIELD["eev_steps"]] = eev
        values[_FIELD["indoor_fan_rpm"]] = in_rpm
        values[_FIELD["outdoor_fan_rpm"]] = out_rpm
        values[_FIELD["power_w"]] = power
        truth = {
            "superheat_k": superheat * running,
            "subcooling_k": np.where(running, 5.0 * (1.0 - 2.0 * deficit), 0.0),
            "q_evap_w": q_e * running,
            "w_comp_w": comp_w,
            "q_cool_w": q_cool,
            "q_heat_w": q_heat,
            "t_room_true": self.t_room.copy(),
            "window": window.astype(np.float64),
            "defrosting": defrosting.astype(np.float64),
            "indoor_fan_w": in_fan_w,
        }
        values = self._read_sensors(values, noise, glitch, faults, running)
        return AcStep(mode=mode, values=values, errors=errors, user=user, truth=truth)

    def _placement(
        self,
        running: BoolArray,
        *,
        indoor_coil: FloatArray,
        outdoor_coil: FloatArray,
        t_suction: FloatArray,
        t_discharge: FloatArray,
        outdoor: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """What thermistors where a model put them read while the compressor runs.

        A coil thermistor clipped near the end of a circuit, or partly in the air stream,
        reads a share of the way from the refrigerant towards the air; a suction pipe
        thermistor under thin insulation reads a little warm; a discharge thermistor on
        the pipe surface reads below the gas. The readings still follow the refrigerant,
        so every fault moves them the same way.
        """
        k = self.k
        indoor_coil = np.where(
            running, indoor_coil + k["coil_in_place"] * (self.t_room - indoor_coil), indoor_coil
        )
        outdoor_coil = np.where(
            running, outdoor_coil + k["coil_out_place"] * (outdoor - outdoor_coil), outdoor_coil
        )
        t_suction = np.where(running, t_suction + k["suction_offset_c"], t_suction)
        t_discharge = np.where(
            running, t_discharge - k["discharge_place"] * (t_discharge - outdoor), t_discharge
        )
        return indoor_coil, outdoor_coil, t_suction, t_discharge

    def _read_sensors(
        self,
        values: FloatArray,
        noise: FloatArray,
        glitch: BoolArray,
        faults: AcFaultInputs,
        running: BoolArray,
    ) -> FloatArray:
        k = self.k
        temps = slice(_FIELD["room_temp_c"], _FIELD["discharge_temp_c"] + 1)
        values[temps] += self.sensor_bias[temps] + k["temp_noise_k"] * noise[temps]
        elec = k["elec_noise"]
        values[_FIELD["compressor_current_a"]] *= 1.0 + elec * noise[_FIELD["compressor_current_a"]]
        values[_FIELD["power_w"]] *= 1.0 + elec * noise[_FIELD["power_w"]]
        fan_rows = [_FIELD["indoor_fan_rpm"], _FIELD["outdoor_fan_rpm"]]
        values[fan_rows] += np.where(values[fan_rows] > 0, k["rpm_noise"] * noise[fan_rows], 0.0)
        # One-sample glitches: a thermistor reads a spike (connector, EMI) for one sample.
        spikes = glitch[temps]
        if spikes.any():
            values[temps] = np.where(
                spikes, values[temps] + k["glitch_k"] * np.sign(noise[temps]), values[temps]
            )
        # Injected sensor faults.
        for i in np.nonzero(faults.sensor_row >= 0)[0].tolist():
            row = int(faults.sensor_row[i])
            mode = int(faults.sensor_mode[i])
            if mode == 1:  # stuck: the last good value forever
                if np.isnan(self.stuck_value[i]):
                    self.stuck_value[i] = values[row, i]
                values[row, i] = self.stuck_value[i]
            elif mode == 2:
                values[row, i] += faults.sensor_drift_k[i]
            elif mode == 3:
                values[row, i] = np.nan
        # Quantisation as firmware reports it.
        if self._coarse:
            return self._quantise(values, temps, fan_rows)
        values[temps] = np.round(values[temps], 1)
        values[_FIELD["setpoint_c"]] = np.round(values[_FIELD["setpoint_c"]] * 2.0) / 2.0
        values[_FIELD["supply_temp_c"]] = np.round(values[_FIELD["supply_temp_c"]], 1)
        values[_FIELD["outdoor_temp_c"]] = np.round(values[_FIELD["outdoor_temp_c"]], 1)
        values[_FIELD["compressor_current_a"]] = np.round(values[_FIELD["compressor_current_a"]], 2)
        values[_FIELD["eev_steps"]] = np.round(values[_FIELD["eev_steps"]])
        values[fan_rows] = np.maximum(np.round(values[fan_rows] / 10.0) * 10.0, 0.0)
        values[_FIELD["power_w"]] = np.round(values[_FIELD["power_w"]])
        _ = running
        return values

    def _quantise(self, values: FloatArray, temps: slice, fan_rows: list[int]) -> FloatArray:
        """Rounding as each model's firmware reports: its own steps for each reading."""
        k = self.k
        temp_rows = [*range(temps.start, temps.stop), _FIELD["supply_temp_c"]]
        temp_rows.append(_FIELD["outdoor_temp_c"])
        values[temp_rows] = _steps(values[temp_rows], k["temp_step"])
        values[_FIELD["setpoint_c"]] = np.round(values[_FIELD["setpoint_c"]] * 2.0) / 2.0
        row = _FIELD["compressor_current_a"]
        values[row] = _steps(values[row], k["current_step"])
        values[_FIELD["eev_steps"]] = np.round(values[_FIELD["eev_steps"]])
        values[fan_rows] = np.maximum(_steps(values[fan_rows], k["rpm_step"]), 0.0)
        values[_FIELD["power_w"]] = _steps(values[_FIELD["power_w"]], k["power_step"])
        return values


def _steps(x: FloatArray, step: FloatArray) -> FloatArray:
    """``x`` rounded to multiples of ``step`` (per unit), without binary fractions' tails.

    >>> _steps(np.array([23.46, 0.349, 1234.0]), np.array([0.5, 0.1, 50.0])).tolist()
    [23.5, 0.3, 1250.0]
    """
    out: FloatArray = np.round(np.round(x / step) * step, 2)
    return out
