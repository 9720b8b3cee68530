"""What the work-order service raises for a caller's mistake (the API maps each to a status).

:class:`~gateway.workorders.lifecycle.IllegalTransition` (409) lives with the flow it
enforces; these two are about the request itself.
"""

from __future__ import annotations


class OrderNotFound(LookupError):
    """No such order, or not one the caller may see (the API answers 404 either way)."""


class InvalidRequest(ValueError):
    """A transition with missing or wrong details (e.g. an unknown root cause): HTTP 422."""
