"""The evaluation's pictures: lead time per fault and one device's residuals with its
detection; and, in a second file, the reliability diagram of the orders' confidence.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from housecall.evaluation.calibration import ECE_TARGET, Calibration
from housecall.evaluation.runner import EvaluationResult


def write_png(result: EvaluationResult, path: Path, title: str) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
    rows = [row for row in result.report.rows.values() if row.leads_days]
    if rows:
        left.boxplot([row.leads_days for row in rows], vert=False, showfliers=True)
        left.set_yticks(range(1, len(rows) + 1), [row.fault for row in rows])
    left.axvline(7.0, color="tab:red", linestyle="--", linewidth=1, label="7-day target")
    left.set_xlabel("lead time before the customer noticed (days)")
    left.set_title("Lead time per fault (correct orders before notice)")
    left.legend(loc="lower right")
    trace = result.trace
    if trace is not None and trace.times:
        columns = list(zip(*trace.residuals, strict=True))
        for name, values in zip(trace.names, columns, strict=True):
            if any(abs(v) > 1.0 for v in values if v == v):  # noqa: PLR0124
                right.plot(trace.times, values, linewidth=1, label=name)
        for order in result.orders:
            if order.device_id == trace.device_id:
                right.axvline(order.opened_at, color="black", linewidth=1.5)
                right.annotate(
                    f"order: {order.fault.value}",
                    (order.opened_at, right.get_ylim()[1]),
                    rotation=90,
                    va="top",
                    ha="right",
                    fontsize=8,
                )
        for truth in result.truths:
            if truth.device_id == trace.device_id:
                right.axvline(truth.onset_at, color="tab:gray", linestyle=":", linewidth=1)
                if truth.notice_at is not None:
                    right.axvline(truth.notice_at, color="tab:red", linestyle="--", linewidth=1)
        right.axhline(0.0, color="gray", linewidth=0.5)
        right.legend(fontsize=7, loc="upper left")
        right.set_ylabel("smoothed residual (z)")
        right.set_title(f"{trace.device_id}: onset (dotted), order (black), notice (red)")
        for label in right.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def calibration_path(path: Path) -> Path:
    """Where the reliability diagram goes: ``<name>-calibration.png`` beside ``path``.

    A file of its own, so the lead-time picture keeps its layout and each reads alone.

    >>> calibration_path(Path("out/evaluation.png")).as_posix()
    'out/evaluation-calibration.png'
    """
    return path.with_name(f"{path.stem}-calibration{path.suffix or '.png'}")


def write_calibration_png(result: EvaluationResult, path: Path, title: str) -> None:
    """Reliability diagram, overall and per kind: accuracy against mean confidence per bin.

    Points on the diagonal are calibrated; below it the orders claim more than they
    deliver. Marker area follows the bin's count, since a bin of two orders says little.
    """
    report = result.report
    panels: list[tuple[str, Calibration]] = [("all orders", report.calibration)]
    panels += list(report.calibration_by_kind.items())
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 5.0), squeeze=False)
    for ax, (name, calibration) in zip(axes[0], panels, strict=True):
        ax.plot([0.0, 1.0], [0.0, 1.0], color="gray", linestyle="--", linewidth=1)
        for row in calibration.bins:
            ax.bar(
                row.low,
                row.accuracy,
                width=row.high - row.low,
                align="edge",
                color="tab:blue",
                alpha=0.25,
                edgecolor="tab:blue",
            )
        if calibration.bins:
            ax.scatter(
                [row.mean_confidence for row in calibration.bins],
                [row.accuracy for row in calibration.bins],
                s=[20.0 + 8.0 * row.count for row in calibration.bins],
                color="tab:blue",
                zorder=3,
            )
            for row in calibration.bins:
                ax.annotate(
                    str(row.count),
                    (row.mean_confidence, row.accuracy),
                    textcoords="offset points",
                    xytext=(6, -12),
                    fontsize=8,
                )
        ece = "-" if calibration.ece is None else f"{calibration.ece:.3f}"
        ax.set_title(
            f"{name}: {calibration.count} orders, ECE {ece} (target <= {ECE_TARGET:g})",
            fontsize=10,
        )
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.05)
        ax.set_xlabel("confidence (bin mean)")
        ax.set_ylabel("share of orders correct")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
