"""The fleet speaks exactly the contract, in device-time order, deterministically."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from edge.contract import Birth, Channel, ErrorEvent, Fault, Status, Telemetry, parse_message
from simulators.faults import FaultTruth
from simulators.fleet import FleetConfig, FleetRun, SimMessage, ground_truth, simulate
from simulators.scenario import Confounders, FaultSpec, Scenario

STORMY = Scenario(
    fault_rate=0.5,
    confounders=Confounders(power_cuts_per_month=25.0, new_unit_share=0.3, glitch_rate=0.002),
)


@pytest.fixture(scope="module")
def stormy_run() -> tuple[FleetRun, list[SimMessage]]:
    config = FleetConfig(devices=30, days=5.0, seed=3, ac_interval_s=300, scenario=STORMY)
    run = FleetRun(config)
    return run, list(run.messages())


@pytest.mark.slow
def test_every_message_is_valid_contract(stormy_run: tuple[FleetRun, list[SimMessage]]) -> None:
    _, messages = stormy_run
    assert len(messages) > 10_000
    for msg in messages:
        inbound = parse_message(msg.topic, msg.payload)
        assert inbound.device_id == msg.device_id
        assert inbound.channel is msg.channel
        payload = inbound.payload
        if isinstance(payload, Status):
            assert msg.retain
            continue
        assert msg.retain == isinstance(payload, Birth)
        assert abs(payload.ts.timestamp() - msg.epoch_s) < 1.0
        assert msg.ts == datetime.fromtimestamp(msg.epoch_s, UTC)


def test_messages_come_in_device_time_order(stormy_run: tuple[FleetRun, list[SimMessage]]) -> None:
    _, messages = stormy_run
    stamps = [m.epoch_s for m in messages]
    assert stamps == sorted(stamps)


def test_births_before_telemetry_and_seq_survives_power_cuts(
    stormy_run: tuple[FleetRun, list[SimMessage]],
) -> None:
    run, messages = stormy_run
    assert run.stats.power_cuts > 0
    state: dict[str, str] = {}
    tel_seq: dict[str, list[int]] = defaultdict(list)
    ev_seq: dict[str, list[int]] = defaultdict(list)
    reconnects = 0
    for msg in messages:
        if msg.channel is Channel.BIRTH:
            if state.get(msg.device_id) == "offline":
                reconnects += 1
            state[msg.device_id] = "born"
        elif msg.channel is Channel.STATUS:
            text = msg.payload.decode()
            if text == "online":
                assert state.get(msg.device_id) == "born", "online follows a birth"
            state[msg.device_id] = text
        else:
            assert state.get(msg.device_id) == "online", f"{msg.device_id} sent while {state}"
            seq = orjson.loads(msg.payload)["seq"]
            (tel_seq if msg.channel is Channel.TELEMETRY else ev_seq)[msg.device_id].append(seq)
    assert reconnects > 0, "power came back at least once with a new birth"
    for seqs in list(tel_seq.values()) + list(ev_seq.values()):
        assert seqs == list(range(len(seqs))), "seq counts up by one and survives reboots"


def test_brand_new_units_appear_mid_run(stormy_run: tuple[FleetRun, list[SimMessage]]) -> None:
    run, messages = stormy_run
    start = run.config.start.timestamp()
    late = [d for d in run.devices if d.active_from_s > start]
    assert late
    first_seen: dict[str, SimMessage] = {}
    for msg in messages:
        first_seen.setdefault(msg.device_id, msg)
    for dev in late:
        first = first_seen[dev.device_id]
        assert first.channel is Channel.BIRTH
        assert first.epoch_s >= dev.active_from_s - 1
        birth = Birth.model_validate_json(first.payload)
        assert birth.installed_on == datetime.fromtimestamp(dev.active_from_s, UTC).date()


def test_glitches_are_single_samples(stormy_run: tuple[FleetRun, list[SimMessage]]) -> None:
    _, messages = stormy_run
    rooms: dict[str, list[float]] = defaultdict(list)
    for msg in messages:
        if msg.channel is Channel.TELEMETRY and msg.device_id.startswith("ac-"):
            value = Telemetry.model_validate_json(msg.payload).readings.numeric()
            if "discharge_temp_c" in value:
                rooms[msg.device_id].append(value["discharge_temp_c"])
    spikes = 0
    for series in rooms.values():
        for a, b, c in zip(series, series[1:], series[2:], strict=False):
            if abs(b - a) > 20 and abs(b - c) > 20 and abs(a - c) < 5:
                spikes += 1
    assert spikes > 0


def test_ground_truth_matches_error_events(stormy_run: tuple[FleetRun, list[SimMessage]]) -> None:
    run, messages = stormy_run
    truth = run.truth()
    assert truth
    errors: dict[str, list[float]] = defaultdict(list)
    for msg in messages:
        if msg.channel is Channel.EVENTS:
            inbound = parse_message(msg.topic, msg.payload).payload
            if isinstance(inbound, ErrorEvent):
                errors[msg.device_id].append(msg.epoch_s)
    for t in truth:
        assert FaultTruth.from_json(orjson.loads(orjson.dumps(t.to_json()))) == t
        if t.notice_at is not None:
            assert t.notice_at >= t.onset_at
            assert any(abs(e - t.notice_at.timestamp()) < 1 for e in errors[t.device_id])


@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_other_fleet() -> None:
    def digest(seed: int) -> str:
        config = FleetConfig(devices=12, days=1.0, seed=seed, ac_interval_s=120)
        h = hashlib.sha256()
        for msg in simulate(config):
            h.update(msg.topic.encode())
            h.update(msg.payload)
        return h.hexdigest()

    assert digest(4) == digest(4)
    assert digest(4) != digest(5)


@pytest.mark.slow
def test_ground_truth_alone_equals_the_truth_of_a_full_run() -> None:
    config = FleetConfig(
        devices=6,
        days=3.0,
        seed=2,
        ac_share=1.0,
        ac_interval_s=300,
        scenario=Scenario(
            faults=(
                FaultSpec(device=1, fault=Fault.OUTDOOR_FAN_FAILURE, onset_day=1.0, sudden=True),
            ),
            explicit_only=True,
        ),
    )
    run = FleetRun(config)
    for _ in run.messages():
        pass
    assert run.truth() == ground_truth(config)
    (only,) = run.truth()
    assert only.device_id == "ac-000001"
    assert only.notice_at is not None


def test_healthy_twin_has_no_faults_but_the_same_devices() -> None:
    config = FleetConfig(devices=20, days=1.0, seed=9, fault_rate=1.0, ac_interval_s=300)
    twin = FleetRun(config.healthy_twin())
    assert twin.plans == []
    assert [d.device_id for d in twin.devices] == [d.device_id for d in FleetRun(config).devices]
    assert len(FleetRun(config).plans) == 20


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("devices", 0),
        ("days", 0.0),
        ("ac_interval_s", 10),
        ("washer_interval_s", 2),
        ("regions", ("XX-1",)),
    ],
)
def test_bad_configs_say_what_is_wrong(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"devices": 2, "days": 1.0, field: value}
    with pytest.raises(ValueError, match=r"\w"):
        FleetConfig(**kwargs)  # type: ignore[arg-type]


def test_a_run_is_one_pass() -> None:
    run = FleetRun(FleetConfig(devices=2, days=0.1, seed=1))
    messages = run.messages()
    next(messages)
    with pytest.raises(RuntimeError, match="not finished"):
        run.truth()
    for _ in messages:
        pass
    run.truth()
    with pytest.raises(RuntimeError, match="runs once"):
        next(run.messages())


@pytest.mark.slow
def test_the_default_mix_is_noticed_weeks_after_onset_within_a_month() -> None:
    config = FleetConfig(devices=120, days=30.0, seed=13, ac_interval_s=300, fault_rate=0.6)
    truth = ground_truth(config)
    assert {t.fault for t in truth} == set(Fault)
    gradual = [t for t in truth if not t.sudden]
    noticed = [t for t in gradual if t.notice_at is not None]
    assert len(noticed) >= 0.55 * len(gradual), "most gradual faults become visible in a month"
    delays = sorted(
        (t.notice_at - t.onset_at).total_seconds() / 86400 for t in noticed if t.notice_at
    )
    median = delays[len(delays) // 2]
    assert 10.0 <= median <= 42.0, "typically two to six weeks between onset and notice"
    assert sum(d >= 7.0 for d in delays) >= 0.85 * len(delays), "room for a week of lead time"


def test_truth_tells_the_level_over_time() -> None:
    config = FleetConfig(
        devices=2,
        days=2.0,
        seed=1,
        ac_share=1.0,
        ac_interval_s=300,
        scenario=Scenario(
            faults=(
                FaultSpec(0, Fault.REFRIGERANT_LEAK, onset_day=0.5, ramp_days=10, severity=0.8),
            ),
            explicit_only=True,
        ),
    )
    (t,) = ground_truth(config)
    assert t.level_at(t.onset_at) == 0.0
    assert t.level_at(t.onset_at + timedelta(days=5)) == pytest.approx(0.4)
    assert t.level_at(t.onset_at + timedelta(days=50)) == pytest.approx(0.8)
