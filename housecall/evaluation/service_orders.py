"""The evaluation's work orders, from the gateway's real :class:`WorkOrderService`.

The evaluation must count the orders the gateway would open, not a re-implementation
of its rules: the service's rules (one active order per ``(device, fault)``, self-fix
notices with a device-time grace, the cooldown after a self-fix that did not hold,
critical findings that skip the notice, a Recovery that marks the evidence normal but
leaves the order for a technician to resolve...) change over time, and a copy drifts.
So :class:`ServiceOrders` owns a ``WorkOrderService`` on its own SQLite store, built
the way the gateway builds its store (``make_engine`` + ``create_schema``), and is fed
the way the gateway's ``Pipeline`` feeds its sink: ``handle(device, ts, signals)`` for
every accepted telemetry/event message, at device time ``ts``, so grace periods and
fix verification follow device time. Births write the ``devices`` row the pipeline's
registry would write, so orders carry brand, region, warranty and parts as in the
gateway. :meth:`ServiceOrders.orders` reads the orders back for scoring.

The service's wall clock stays the default: it only stamps audit entries and SLA
deadlines, which scoring does not use.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from detectors.api import FleetDetector, Signal
from edge.contract import Birth, Fault
from gateway.db import create_schema, make_engine
from gateway.device_table import Device
from gateway.registry import DeviceInfo, DeviceRegistry
from gateway.workorders import tables  # noqa: F401 - registers the work-order tables on Base
from gateway.workorders.ids import aware, maybe_aware
from gateway.workorders.service import ServiceConfig, WorkOrderService
from gateway.workorders.tables import WorkOrderRow
from housecall.evaluation.scoring import OpenedOrder


class ServiceOrders:
    """The gateway's work-order service as the evaluation's sink, on a throw-away SQLite file.

    A file in a temporary directory rather than ``:memory:``: the service opens a session
    per step, and a file with the gateway's own engine settings (WAL, busy timeout) is
    what the gateway runs on, with no pool tricks to share one in-memory connection.
    Use it as a context manager (or call :meth:`close`) to drop the file.
    """

    def __init__(
        self,
        *,
        detector: FleetDetector | None = None,
        config: ServiceConfig | None = None,
    ) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="housecall-evaluation-")
        self.engine = make_engine(f"sqlite:///{Path(self._directory.name) / 'housecall.db'}")
        create_schema(self.engine)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self.service = WorkOrderService(self.sessions, detector=detector, config=config)
        self._registry = DeviceRegistry()
        #: What the pipeline hands its sink for each device (only ``device_id`` is read).
        self._devices: dict[str, DeviceInfo] = {}

    def on_birth(self, birth: Birth) -> None:
        """Write the ``devices`` row the gateway's registry writes for this birth."""
        self._registry.begin()
        self._devices[birth.device_id] = self._registry.observe_birth(birth)
        with self.sessions.begin() as session:
            for row in self._registry.dirty_rows():
                session.merge(Device(**row))

    def handle(self, device_id: str, ts: datetime, signals: Sequence[Signal]) -> None:
        """One accepted telemetry/event message: exactly the pipeline's sink call."""
        device = self._devices.get(device_id)
        if device is None:  # telemetry before any birth: the registry knows just the id
            device = self._devices[device_id] = DeviceInfo(device_id)
        self.service.handle(device, ts, signals)

    def orders(self) -> list[OpenedOrder]:
        """Every order the service opened, oldest first, as scoring wants them.

        ``closed_at`` is the device time the telemetry verified a repair (``verified_at``);
        nobody resolves orders in the evaluation, so it stays ``None`` there: a Recovery
        leaves the order open for the technician, as in the gateway.
        """
        with self.sessions() as session:
            rows = session.scalars(
                select(WorkOrderRow).order_by(WorkOrderRow.opened_at, WorkOrderRow.id)
            ).all()
            return [
                OpenedOrder(
                    device_id=row.device_id,
                    fault=Fault(row.fault),
                    opened_at=aware(row.opened_at),
                    confidence=row.confidence,
                    closed_at=maybe_aware(row.verified_at),
                    predicted_failure_at=maybe_aware(row.predicted_failure_at),
                )
                for row in rows
            ]

    @property
    def actions(self) -> dict[str, int]:
        """What the service did, by action (``opened``, ``updated``, ``noticed``, ...)."""
        return dict(self.service.counts)

    def close(self) -> None:
        self.engine.dispose()
        self._directory.cleanup()

    def __enter__(self) -> ServiceOrders:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
