"""Durable detector state: a journal written with every batch, checkpoints, restore.

See :mod:`gateway.checkpoints.checkpointer` for the consistency design.
"""

from gateway.checkpoints.checkpointer import CheckpointMetrics, DetectorCheckpointer, RestoreReport

__all__ = ["CheckpointMetrics", "DetectorCheckpointer", "RestoreReport"]
