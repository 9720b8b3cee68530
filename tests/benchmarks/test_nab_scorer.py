"""The NAB scorer on hand-made cases whose scores can be worked out on paper."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.nab_benchmark import in_tuning_half
from benchmarks.nab_scorer import (
    PROFILES,
    FileRows,
    best_threshold,
    load_corpus,
    probation_rows,
    raw_score,
    scaled_sigmoid,
    score_corpus,
)

STANDARD = PROFILES["standard"]


def detections(n: int, *rows: int) -> np.ndarray:
    scores = np.zeros(n)
    for row in rows:
        scores[row] = 1.0
    return scores


def test_sigmoid_weights_the_left_edge_most_and_the_far_future_as_a_full_false_positive() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(-1.0) > scaled_sigmoid(-0.5) > scaled_sigmoid(-0.1) > 0


def test_probation_is_fifteen_percent_capped_at_750_rows() -> None:
    assert probation_rows(1000) == 150
    assert probation_rows(10_000) == 750


def test_earliest_detection_in_a_window_counts_once_and_a_miss_costs_fn() -> None:
    rows = FileRows.build(2000, [(1000, 1099)])
    # At the left edge: the full A_TP; later detections in the same window add nothing.
    assert raw_score(rows, detections(2000, 1000, 1050, 1099), 0.5, STANDARD) == pytest.approx(1.0)
    # In the middle of the window: sigma(-0.5)/sigma(-1).
    middle = scaled_sigmoid(-50 / 100) / scaled_sigmoid(-1.0)
    assert raw_score(rows, detections(2000, 1050), 0.5, STANDARD) == pytest.approx(middle)
    assert raw_score(rows, np.zeros(2000), 0.5, STANDARD) == pytest.approx(-1.0)
    low_fn = PROFILES["reward_low_FN_rate"]
    assert raw_score(rows, np.zeros(2000), 0.5, low_fn) == pytest.approx(-2.0)


def test_false_positives_cost_more_the_further_they_are_from_the_last_window() -> None:
    rows = FileRows.build(4000, [(1000, 1099)])
    before_any_window = raw_score(rows, detections(4000, 800, 1000), 0.5, STANDARD)
    assert before_any_window == pytest.approx(1.0 - 0.11)
    just_after = raw_score(rows, detections(4000, 1000, 1101), 0.5, STANDARD)
    far_after = raw_score(rows, detections(4000, 1000, 3900), 0.5, STANDARD)
    assert 1.0 - 0.11 <= far_after < just_after < 1.0
    assert far_after == pytest.approx(1.0 - 0.11)  # > 3 window lengths away: the full A_FP
    low_fp = raw_score(rows, detections(4000, 800, 1000), 0.5, PROFILES["reward_low_FP_rate"])
    assert low_fp == pytest.approx(1.0 - 0.22)


def test_probation_rows_are_never_scored() -> None:
    rows = FileRows.build(2000, [(1000, 1099)])
    assert raw_score(rows, detections(2000, 10, 1000), 0.5, STANDARD) == pytest.approx(1.0)


def test_corpus_score_is_zero_for_the_null_and_100_for_the_perfect_detector() -> None:
    files = [FileRows.build(2000, [(1000, 1099)]), FileRows.build(3000, [(900, 999), (2000, 2099)])]
    null = [np.zeros(2000), np.zeros(3000)]
    perfect = [detections(2000, 1000), detections(3000, 900, 2000)]
    half = [detections(2000, 1000), np.zeros(3000)]
    assert score_corpus(files, null, 0.5, STANDARD) == pytest.approx(0.0)
    assert score_corpus(files, perfect, 0.5, STANDARD) == pytest.approx(100.0)
    # one of three windows at its left edge, two missed: S = 1 - 2 = -1, null -3, perfect 3
    assert score_corpus(files, half, 0.5, STANDARD) == pytest.approx(100 * 2 / 6)


def test_one_threshold_is_chosen_for_the_whole_corpus() -> None:
    files = [FileRows.build(2000, [(1000, 1099)])]
    scores = [np.zeros(2000)]
    scores[0][1000] = 0.9
    scores[0][1500] = 0.5  # a false positive that only a low threshold lets through
    threshold, value = best_threshold(files, scores, STANDARD, np.array([0.4, 0.8, 1.0]))
    assert threshold == 0.8
    assert value == pytest.approx(100.0)


def test_a_false_positive_between_two_windows_is_weighed_from_the_earlier_one() -> None:
    rows = FileRows.build(5000, [(1000, 1099), (3000, 3099)])
    # 51 rows past the first window's last row, in units of (width - 1) = 99 rows.
    expected = abs(scaled_sigmoid(51 / 99))
    assert rows.fp_value[1150] == pytest.approx(expected)
    assert 0 < expected < 1
    both = raw_score(rows, detections(5000, 1000, 1150, 3000), 0.5, STANDARD)
    assert both == pytest.approx(2.0 - 0.11 * expected)
    # Just before the second window the first is ~19 widths behind: a full false positive.
    assert rows.fp_value[2999] == pytest.approx(1.0)


def test_a_detection_on_a_window_last_row_earns_almost_nothing() -> None:
    rows = FileRows.build(2000, [(1000, 1099)])
    last = raw_score(rows, detections(2000, 1099), 0.5, STANDARD)
    assert last == pytest.approx(scaled_sigmoid(-1 / 100) / scaled_sigmoid(-1.0))
    assert 0 < last < 0.03


def test_the_loader_maps_window_timestamps_to_rows(tmp_path: Path) -> None:
    (tmp_path / "data" / "a").mkdir(parents=True)
    (tmp_path / "labels").mkdir()
    lines = ["timestamp,value"] + [f"2014-01-01 00:{m:02d}:00,{m * 1.5}" for m in range(60)]
    (tmp_path / "data" / "a" / "x.csv").write_text("\n".join(lines) + "\n")
    windows = {"a/x.csv": [["2014-01-01 00:10:00.000000", "2014-01-01 00:14:00.000000"]]}
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    (item,) = load_corpus(tmp_path)
    assert item.values[3] == 4.5
    assert item.rows.n_windows == 1
    assert np.flatnonzero(item.rows.window_of_row == 0).tolist() == [10, 11, 12, 13, 14]
    assert item.rows.probation == 9


def test_the_tuning_half_is_every_other_file_by_name_from_the_first() -> None:
    assert in_tuning_half(["c", "a", "d", "b"]) == [True, True, False, False]
