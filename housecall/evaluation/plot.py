"""The evaluation's picture: lead time per fault, and one device's residuals with its detection."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

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
