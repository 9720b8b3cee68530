"""Calibration of the orders' confidence, on hand-made inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.contract import Fault
from housecall.evaluation.calibration import Prediction, bins_for, calibrate
from housecall.evaluation.scoring import OpenedOrder, Truth, is_correct, score

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_perfectly_calibrated_predictions_have_zero_ece() -> None:
    # 10 bins: at 0.95 19 of 20 right, at 0.65 13 of 20, at 0.15 3 of 20
    predictions = [Prediction(0.95, i < 19) for i in range(20)]
    predictions += [Prediction(0.65, i < 13) for i in range(20)]
    predictions += [Prediction(0.15, i < 3) for i in range(20)]
    calibration = calibrate(predictions)
    assert calibration.n_bins == 10
    assert [(b.low, b.count) for b in calibration.bins] == [
        pytest.approx((0.1, 20)),
        pytest.approx((0.6, 20)),
        pytest.approx((0.9, 20)),
    ]
    assert calibration.ece == pytest.approx(0.0, abs=1e-12)
    assert all(b.gap == pytest.approx(0.0, abs=1e-12) for b in calibration.bins)


def test_always_wrong_at_full_confidence_has_ece_one() -> None:
    calibration = calibrate([Prediction(1.0, correct=False)] * 50)
    assert calibration.ece == pytest.approx(1.0)
    # confidence 1 falls in the last bin, which is closed on the right
    (only,) = calibration.bins
    assert only.high == pytest.approx(1.0)
    assert only.accuracy == 0.0
    assert only.gap == pytest.approx(-1.0)
    assert calibration.accuracy == 0.0


def test_a_mixed_case_computed_by_hand() -> None:
    """Two bins; see the sums in the comments."""
    predictions = [
        # [0.0, 0.5): confidences 0.1, 0.3, 0.3, 0.3 -> mean 0.25; 2 of 4 right -> gap +0.25
        Prediction(0.1, correct=True),
        Prediction(0.3, correct=True),
        Prediction(0.3, correct=False),
        Prediction(0.3, correct=False),
        # [0.5, 1.0]: 0.8 x 4 and 1.0 x 2 -> mean 0.8667; 3 of 6 right -> gap -0.3667
        *[Prediction(0.8, correct=i < 3) for i in range(4)],
        Prediction(1.0, correct=False),
        Prediction(1.0, correct=False),
    ]
    calibration = calibrate(predictions, n_bins=2)
    low, high = calibration.bins
    assert (low.count, high.count) == (4, 6)
    assert low.mean_confidence == pytest.approx(0.25)
    assert low.accuracy == pytest.approx(0.5)
    assert high.mean_confidence == pytest.approx(5.2 / 6)
    assert high.accuracy == pytest.approx(0.5)
    # ECE = (4 * 0.25 + 6 * (5.2/6 - 0.5)) / 10 = (1.0 + 2.2) / 10
    assert calibration.ece == pytest.approx(0.32)
    assert calibration.count == 10
    assert calibration.correct == 5
    assert calibration.mean_confidence == pytest.approx(6.2 / 10)


def test_few_predictions_get_fewer_wider_bins() -> None:
    assert bins_for(0) == 1
    assert bins_for(9) == 1
    assert bins_for(10) == 2
    assert bins_for(49) == 9
    assert bins_for(50) == 10
    assert bins_for(5000) == 10
    assert calibrate([Prediction(0.7, correct=True)] * 12).n_bins == 2


def test_no_predictions_have_no_ece_and_no_bins() -> None:
    calibration = calibrate([])
    assert calibration.ece is None
    assert calibration.bins == ()
    assert calibration.accuracy is None
    assert calibration.mean_confidence is None


@pytest.mark.parametrize("confidence", [-0.01, 1.01, float("nan")])
def test_a_confidence_outside_0_to_1_is_refused(confidence: float) -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        calibrate([Prediction(confidence, correct=True)])


def test_zero_bins_are_refused() -> None:
    with pytest.raises(ValueError, match="n_bins"):
        calibrate([Prediction(0.5, correct=True)], n_bins=0)


def test_scoring_calibrates_every_order_per_kind_with_the_precision_notion_of_correct() -> None:
    truths = [
        Truth("ac-1", Fault.REFRIGERANT_LEAK, day(2), day(20), sudden=False),
        Truth("wm-2", Fault.SUSPENSION_WEAR, day(3), None, sudden=False),
    ]
    orders = [
        OpenedOrder("ac-1", Fault.REFRIGERANT_LEAK, day(1), 0.9),  # before the onset: wrong
        OpenedOrder("ac-1", Fault.REFRIGERANT_LEAK, day(5), 0.9),  # right
        OpenedOrder("ac-3", Fault.SENSOR_FAULT, day(6), 0.6),  # healthy unit: wrong
        OpenedOrder("wm-2", Fault.SUSPENSION_WEAR, day(4), 0.8),  # right
        OpenedOrder("wm-2", Fault.BEARING_WEAR, day(5), 0.4),  # another fault: wrong
    ]
    kinds = {"ac-1": "ac", "ac-3": "ac", "wm-2": "washer"}
    report = score(truths, orders, ["ac-1", "wm-2", "ac-3"], days=10, kinds=kinds)
    assert report.correct_orders == 2
    assert report.calibration.count == report.orders == 5
    assert report.calibration.correct == report.correct_orders
    assert set(report.calibration_by_kind) == {"ac", "washer"}
    ac = report.calibration_by_kind["ac"]
    assert (ac.count, ac.correct) == (3, 1)
    # one bin (3 orders): mean confidence 0.8, accuracy 1/3
    assert report.ece_by_kind["ac"] == pytest.approx(0.8 - 1 / 3)
    # washer: one bin, mean 0.6, accuracy 0.5
    assert report.ece_by_kind["washer"] == pytest.approx(0.1)
    # overall: one bin (5 orders), mean 3.6 / 5 = 0.72, accuracy 0.4
    assert report.ece == pytest.approx(0.32)


def test_without_kinds_only_the_overall_calibration_is_reported() -> None:
    orders = [OpenedOrder("ac-9", Fault.SENSOR_FAULT, day(1), 1.0)]
    report = score([], orders, ["ac-9"], days=5)
    assert report.calibration_by_kind == {}
    assert report.ece == pytest.approx(1.0)


def test_is_correct_needs_the_same_fault_on_that_device_after_its_onset() -> None:
    truth = Truth("ac-1", Fault.DIRTY_FILTER, day(2), None, sudden=False)
    assert is_correct(OpenedOrder("ac-1", Fault.DIRTY_FILTER, day(2), 0.5), [truth])
    assert not is_correct(OpenedOrder("ac-1", Fault.DIRTY_FILTER, day(1.9), 0.5), [truth])
    assert not is_correct(OpenedOrder("ac-1", Fault.SENSOR_FAULT, day(3), 0.5), [truth])
    assert not is_correct(OpenedOrder("ac-2", Fault.DIRTY_FILTER, day(3), 0.5), [truth])
    assert not is_correct(OpenedOrder("ac-2", Fault.DIRTY_FILTER, day(3), 0.5), [])


def test_the_reliability_diagram_is_a_png_beside_the_plot(tmp_path: Path) -> None:
    from housecall.evaluation.plot import calibration_path, write_calibration_png
    from housecall.evaluation.runner import EvaluationResult

    truths = [Truth("ac-1", Fault.REFRIGERANT_LEAK, day(2), day(20), sudden=False)]
    orders = [
        OpenedOrder("ac-1", Fault.REFRIGERANT_LEAK, day(5), 0.9),
        OpenedOrder("wm-3", Fault.SENSOR_FAULT, day(6), 0.6),
    ]
    report = score(truths, orders, ["ac-1", "wm-3"], 10, {"ac-1": "ac", "wm-3": "washer"})
    result = EvaluationResult(
        report=report,
        truths=truths,
        orders=orders,
        order_actions={},
        messages=0,
        rejected=0,
        duplicates=0,
        late=0,
        seconds=0.0,
        detector_seconds=0.0,
        service_seconds=0.0,
        trace=None,
    )
    path = calibration_path(tmp_path / "evaluation.png")
    assert path.name == "evaluation-calibration.png"
    write_calibration_png(result, path, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
