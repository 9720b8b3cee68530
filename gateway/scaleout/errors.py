"""What can go wrong in the RabbitMQ transport, as exceptions with one readable line each.

The gateway prints ``str(error)`` as its single line and exits non-zero, so every
message names the broker (password redacted) and what to check.
"""

from __future__ import annotations


class ScaleOutError(RuntimeError):
    """Base class: anything the scale-out transport refuses or cannot do."""


class TransportUnavailable(ScaleOutError):
    """RabbitMQ cannot be reached or refused the connection (address, credentials, vhost)."""


class TopologyMismatch(ScaleOutError):
    """The exchange or partition queues exist with other settings than ours.

    Declaring a quorum queue over an existing classic queue, or starting with
    fewer partitions than the fleet was declared with, would silently strand
    messages; we refuse instead.
    """


class PublishNotConfirmed(ScaleOutError):
    """Part of a batch was not confirmed by RabbitMQ: the caller must not ack any of it."""


class HandlerFailed(ScaleOutError):
    """The consumer's handler (or a partition hook) raised; its batch was not acked.

    The original exception is ``__cause__``. The consumer closed its connection,
    so the batch goes back to its queues (and to another worker, if one waits).
    """
