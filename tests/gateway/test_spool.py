"""The disk spool: ordered, bounded, survives reopening, forgets uncommitted batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.timeseries.spool import Spool, SpoolFull


def test_entries_come_back_in_order_and_leave_when_delivered(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for batch in (1, 2, 3):
        spool.append(batch, f"m v={batch} {batch}".encode(), points=1)
    assert [entry.batch_id for entry in spool.head(10)] == [1, 2, 3]
    assert [entry.batch_id for entry in spool.head(10, through=2)] == [1, 2]
    spool.remove_through(2)
    assert (spool.entries, spool.points) == (1, 1)
    spool.close()


def test_size_is_bounded(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.append(1, b"x" * 80, points=1)
    with pytest.raises(SpoolFull):
        spool.append(2, b"y" * 80, points=1)
    assert not spool.wait_for_space(80, timeout_s=0.05)
    spool.remove_through(1)
    assert spool.wait_for_space(80, timeout_s=0.05)
    spool.close()


def test_a_single_entry_larger_than_the_bound_fits_an_empty_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10)
    spool.append(1, b"z" * 50, points=5)
    assert spool.size_bytes == 50
    spool.close()


def test_reopened_spool_keeps_its_entries_and_sizes(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    spool.append(7, b"abc", points=2)
    spool.append(8, b"defg", points=3)
    spool.close()
    again = Spool(tmp_path, max_bytes=10_000)
    assert (again.size_bytes, again.points, again.entries, again.max_batch_id()) == (7, 5, 2, 8)
    assert again.discard_after(7) == 1
    assert [entry.body for entry in again.head(10)] == [b"abc"]
    again.close()


def test_head_limits_bytes_per_request(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for batch in range(1, 6):
        spool.append(batch, b"x" * 100, points=1)
    assert len(spool.head(10, max_bytes=250)) == 2
    assert len(spool.head(10, max_bytes=50)) == 1  # always at least one
    spool.close()
