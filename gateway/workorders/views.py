"""How an order looks on the wire: the contract's section-4 fields first, then ours.

The same dict goes to the REST API, webhook bodies and the demo's table, so a brand's
system sees one shape everywhere. Times are RFC 3339 UTC with a ``Z``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.workorders.ids import aware, maybe_aware
from gateway.workorders.sla import SLA_STOPPED
from gateway.workorders.tables import WorkOrderRow


def iso(value: datetime | None) -> str | None:
    """RFC 3339 UTC with ``Z`` (None stays None)."""
    value = maybe_aware(value)
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def order_view(row: WorkOrderRow, *, now: datetime | None = None) -> dict[str, Any]:
    due = aware(row.due_wall_at)
    breached = row.sla_breached_wall_at is not None or (
        now is not None and row.status not in SLA_STOPPED and now > due
    )
    return {
        # contract section 4
        "id": row.id,
        "device_id": row.device_id,
        "kind": row.kind,
        "fault": row.fault,
        "confidence": round(float(row.confidence), 4),
        "severity": row.severity,
        "status": row.status,
        "opened_at": iso(row.opened_at),
        "predicted_failure_at": iso(row.predicted_failure_at),
        "evidence": list(row.evidence or []),
        "alternatives": list(row.alternatives or []),
        "recommended_parts": list(row.recommended_parts or []),
        "warranty": row.warranty,
        # the gateway's own
        "due_at": iso(due),
        "sla_breached": breached and row.status not in SLA_STOPPED,
        "first_seen_at": iso(row.first_seen_at),
        "last_seen_at": iso(row.last_seen_at),
        "occurrences": row.occurrences,
        "reopened": row.reopened,
        "brand": row.brand,
        "model": row.model,
        "region": row.region,
        "technician_id": row.technician_id,
        "provider_id": row.provider_id,
        "scheduled_for": iso(row.scheduled_for),
        "root_cause": row.root_cause,
        "parts_used": list(row.parts_used or []),
        "notes": row.notes,
        "verified_at": iso(row.verified_at),
        "created_at": iso(row.created_wall_at),
        "updated_at": iso(row.updated_wall_at),
    }
