"""The ``housecall`` command: the one place that composes the four packages.

``gateway``, ``edge``, ``detectors`` and ``simulators`` keep to their own jobs;
only this composition root (the CLI, the demo and the evaluation harness) wires
them together.
"""
