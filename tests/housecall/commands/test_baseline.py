"""``housecall baseline`` as a user runs it: learn, import into a gateway's store, export.

Real subprocesses on a tiny healthy fleet, a real SQLite store (and PostgreSQL for the
round trip through a gateway's checkpoint).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from detectors.checkpoint import BaselineError, export_baseline, import_baseline
from detectors.fleet import HousecallDetector
from gateway.checkpoints.shared import load_shared
from gateway.db import make_engine

HOUSECALL = Path(sys.executable).parent / "housecall"


def run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HOUSECALL), "baseline", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOUSECALL_DATABASE_URL": database_url},
        check=False,
    )


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("baseline") / "fleet.json.gz"
    result = run(
        "learn", str(path), "--devices", "12", "--days", "2", "--seed", "77",
        database_url="sqlite://",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "cohorts" in result.stdout
    return path


def body_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return data


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_import_then_export_gives_back_the_same_models(
    learned: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'gw.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    imported = run("import", str(learned), database_url=url)
    assert imported.returncode == 0, imported.stderr
    assert "imported" in imported.stdout

    engine = make_engine(url)
    detector = HousecallDetector()
    assert load_shared(engine, "housecall-gateway", detector)
    engine.dispose()
    assert detector.cohorts, "the gateway's checkpoint now holds the cohorts"

    out = tmp_path / "again.json.gz"
    exported = run("export", str(out), database_url=url)
    assert exported.returncode == 0, exported.stderr
    original, again = body_of(learned), body_of(out)
    assert again["cohorts"] == original["cohorts"]
    assert again["unit_spreads"] == original["unit_spreads"]


@pytest.mark.slow
def test_a_bad_file_is_one_line_exit_2_and_changes_nothing(learned: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    edited = body_of(learned)
    edited["cohorts"][0]["spread"][0] += 1.0
    cases = {
        "edited.json": json.dumps(edited),
        "other.json": json.dumps({"format": "something-else"}),
        "truncated.json.gz": gzip.compress(learned.read_bytes()[:-20]).decode("latin-1"),
        "text.json": "not json",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content.encode("latin-1"))
        result = run("import", str(path), database_url=url)
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr
    missing = run("export", str(tmp_path / "x.json"), database_url=url)
    assert missing.returncode == 2
    assert "no detector checkpoint" in missing.stderr


def test_import_refuses_another_detector_version_or_signal_list_whole(learned: Path) -> None:
    body = body_of(learned)
    detector = HousecallDetector()
    other_version = {**body, "detector_version": "0" * 16}
    with pytest.raises(BaselineError, match="checksum"):
        import_baseline(detector, other_version)
    from detectors.checkpoint import baseline_checksum

    other_version["checksum"] = baseline_checksum(other_version)
    with pytest.raises(BaselineError, match="detector version"):
        import_baseline(detector, other_version)
    fewer = json.loads(json.dumps(body))
    fewer["cohorts"][-1]["floors"] = fewer["cohorts"][-1]["floors"][:-1]
    fewer["checksum"] = baseline_checksum(fewer)
    with pytest.raises(BaselineError, match="other signals"):
        import_baseline(detector, fewer)
    assert not detector.cohorts, "a refused baseline changes nothing"


def test_exported_models_predict_exactly_what_the_learned_ones_do(learned: Path) -> None:
    source = HousecallDetector()
    import_baseline(source, body_of(learned))
    again = export_baseline(source, source="copy")
    target = HousecallDetector()
    import_baseline(target, again)
    for key, cohort in source.cohorts.items():
        probe = {name: cohort.low[name] for name in cohort.low}
        assert target.cohorts[key].predict(probe, probe) == cohort.predict(probe, probe)
        assert len(target.cohorts[key].units) == len(cohort.units)
        assert all(unit.startswith("baseline-") for unit in target.cohorts[key].units)
