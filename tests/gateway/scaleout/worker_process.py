"""A worker process for the failover test: ``python -m tests.gateway.scaleout.worker_process``.

Arguments: AMQP URL, topology prefix, partition count, output file, seconds to
sleep per batch. It consumes every partition and appends ``partition device
seq`` lines for each batch *before* the batch is acked, like a worker whose
durable write precedes the ack; the test SIGKILLs it mid-stream. It prints
``subscribed`` once all its consumers are registered.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from gateway.scaleout import PartitionConsumer, PartitionDelivery, Topology
from tests.gateway.scaleout.helpers import key


def main(argv: Sequence[str]) -> int:
    url, prefix, partitions, out_path, delay = argv
    topology = Topology(partitions=int(partitions), prefix=prefix)
    with Path(out_path).open("a", encoding="utf-8") as out:

        def handle(batch: Sequence[PartitionDelivery]) -> None:
            time.sleep(float(delay))
            lines = []
            for delivery in batch:
                device, seq = key(delivery)
                lines.append(f"{delivery.partition} {device} {seq} {int(delivery.redelivered)}\n")
            out.write("".join(lines))
            out.flush()

        consumer = PartitionConsumer(
            url, handle, topology, name="failover-worker", prefetch=50, max_batch=50
        )
        consumer.connect()
        print("subscribed", flush=True)
        consumer.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
