"""The fixtures really start servers that answer over real sockets."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import psycopg
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from paho.mqtt.enums import CallbackAPIVersion

from tests.servers import Mosquitto, Postgres, VictoriaMetrics


def test_mosquitto_round_trips_a_qos1_message(mosquitto: Mosquitto) -> None:
    received = threading.Event()
    got: list[bytes] = []

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(bytes(msg.payload))
        received.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fixture-sub")
    sub.on_message = on_message
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("fixture/#", qos=1)
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fixture-pub")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        for _ in range(50):  # the subscription may take a moment
            pub.publish("fixture/x", b"hello", qos=1).wait_for_publish(5)
            if received.wait(0.2):
                break
    finally:
        pub.loop_stop()
        sub.loop_stop()
    assert got
    assert got[0] == b"hello"


def test_victoria_metrics_accepts_the_influx_v2_write_api(
    victoria_metrics: VictoriaMetrics,
) -> None:
    with InfluxDBClient(url=victoria_metrics.url, token="t", org="o") as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            bucket="b", record="fixture,device=ac-1 power_w=512.5 1784034300000000000"
        )
    series = victoria_metrics.export('{__name__="fixture_power_w"}')
    assert series[0]["metric"]["device"] == "ac-1"
    assert series[0]["values"] == [512.5]


def test_postgres_cluster_creates_fresh_databases(postgres: Postgres) -> None:
    first, second = postgres.create_database(), postgres.create_database()
    assert first != second
    dsn = second.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
