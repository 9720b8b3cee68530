"""An honest technician who confirms the fault the appliance itself reported is not marked down.

Issue 31: an order opened from an appliance's error code carries only the error event as
evidence (``error E21: drain timeout``, the shape :meth:`detectors.fleet.FleetDetector.
_on_error` gives it). Confirming that very fault was scored "contradicted", which weighs in
dispatch. A root cause can only be contradicted by evidence that points elsewhere.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from edge.contract import Evidence, Fault, Kind, Severity
from gateway.quality.evidence_rules import CONSISTENT, CONTRADICTED, UNDETERMINED, judge
from gateway.workorders.keys import Role
from tests.gateway.quality.helpers import add_device, add_provider, finding, make_rig
from tests.gateway.quality.http_api import ADMIN, app_for, go_on_site, key, resolve
from tests.gateway.workorders.http_helpers import serve


def error_evidence(code: str, text: str) -> Evidence:
    """What the detectors put in an order opened from an appliance's error event."""
    return Evidence(signal=f"error {code}: {text}", baseline=0.0, observed=1.0, unit="event")


@pytest.mark.parametrize(
    ("fault", "code", "text"),
    [
        (Fault.DRAIN_PUMP_CLOG, "E21", "drain timeout"),
        (Fault.HEATER_FAILURE, "E05", "heating timeout"),
    ],
)
def test_confirming_the_fault_an_error_code_reported_is_not_contradicted(
    engine: Engine, fault: Fault, code: str, text: str
) -> None:
    add_device(engine, "wm-1", kind="washer", model="AUR-W8")
    add_provider(engine, "sp_wash", [("w1", "Anna Kowalska")], skills="washer")
    rig = make_rig(engine)
    order = rig.service.on_finding(
        finding(
            "wm-1",
            fault,
            kind=Kind.WASHER,
            severity=Severity.CRITICAL,
            evidence=(error_evidence(code, text),),
        )
    ).order_id
    assert order is not None
    tech = key(rig, Role.TECHNICIAN, technician_id="w1")
    with serve(app_for(rig)) as base, httpx.Client(base_url=base + "/api/v1") as http:
        go_on_site(http, rig, order, "w1", tech)
        resolve(http, rig, order, tech, str(fault))  # the very fault the appliance reported
        card = http.get("/technicians/w1/scorecard", headers=ADMIN).json()
    assert card["visits"] == 1
    assert card["counts"]["root_causes_contradicted"] == 0, card["contradictions"]
    assert card["contradictions"] == []


def test_an_error_code_naming_another_fault_still_contradicts() -> None:
    """The fix does not excuse a root cause that the appliance's own code points away from."""
    evidence = [[error_evidence("E21", "drain timeout").model_dump()]]
    assert judge("washer", "drain_pump_clog", evidence).verdict == CONSISTENT
    assert judge("washer", "heater_failure", evidence).verdict == CONTRADICTED
    unmapped = [[error_evidence("E99", "door lock").model_dump()]]
    assert judge("washer", "drain_pump_clog", unmapped).verdict == UNDETERMINED
