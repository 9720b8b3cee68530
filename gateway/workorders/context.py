"""What every part of the work-order service shares: the store, the clock, the policies.

One mutable object rather than a copy in each part, so that swapping ``service.clock``
or ``service.publish_notice`` at run time (tests, the demo) reaches every part at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from detectors.api import FleetDetector
from gateway.workorders.catalogue import PartsCatalogue
from gateway.workorders.config import ServiceConfig
from gateway.workorders.notices import NoticePublisher
from gateway.workorders.sla import SlaPolicy


@dataclass
class Context:
    sessions: sessionmaker[Session]
    config: ServiceConfig
    sla: SlaPolicy
    catalogue: PartsCatalogue
    #: The wall clock (audit entries, SLA deadlines); decisions use device time.
    clock: Callable[[], datetime]
    #: Taught by technicians' outcomes; None where nothing learns (tests, tools).
    detector: FleetDetector | None = None
    #: Where self-fix notices go; None where no customer can be reached.
    publish_notice: NoticePublisher | None = None
