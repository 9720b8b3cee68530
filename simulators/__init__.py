"""Simulated appliances: physics, faults, confounders and a whole fleet in device time.

Modules, one job each:

- ``catalog``: appliance models (capacity, refrigerant, drum, heater...) and regions (climate).
- ``weather``: hourly outdoor temperature and sun per region, with heat waves and cold snaps.
- ``refrigerant``: saturation curves fitted for R32 and R410A.
- ``ac``: inverter split units stepped together as numpy arrays (controller, cycle, room).
- ``washer``: one front-loader cycle at a time, phase by phase.
- ``faults``: fault plans (onset, progression, severity) and the ``FaultTruth`` they leave.
- ``scenario``: TOML scenario files (fault mix, explicit injections, confounders).
- ``fleet``: ``FleetConfig``, ``simulate``, ``ground_truth``, ``FleetRun``: the API.
- ``publish``: to a broker through ``edge.publisher.MqttPublisher``, or to/from JSONL.
- ``variation``: physics variation: every physics and sensor constant per model and per
  unit, drawn from ranges that widen with ``FleetConfig.physics_variation`` (0: nominal).

Everything a simulated appliance sends is exact wire-contract bytes, and a fleet is
deterministic for a seed; ``FleetConfig.healthy_twin()`` gives the same fleet under the
same weather and use without its faults, which is how the tests check fault signatures.
"""
