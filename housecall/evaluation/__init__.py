"""Evaluation harness: simulated fleet -> gateway path -> detectors -> work orders -> scores.

The composition root of the evaluation: it may import the simulators, the gateway and
the detectors. ``housecall evaluate`` is its command-line face.
"""
