"""Work orders: findings in, pre-diagnosed tickets through dispatch, SLA and verification out.

Public API (what the gateway, the demo and other layers call):

- :class:`gateway.service_loop.ServiceLoop` -- everything in one part: ``.service``
  (the pipeline's ``SignalSink``), ``.routers()`` and ``.device_scope()`` for
  ``create_app``/``Gateway``, ``.start()``/``.stop()`` for the webhook and SLA workers.
- :class:`gateway.workorders.service.WorkOrderService` -- ``handle(device, ts, signals)``,
  ``on_finding``, ``on_recovery``, ``transition``, ``get``, ``list_orders``, ``audit``,
  ``sla_breaches``; raises ``IllegalTransition`` (409), ``InvalidRequest`` (422),
  ``OrderNotFound`` (404). A facade: each job lives in its own module (``README.md``).
- :mod:`gateway.workorders.events` -- the extension points: ``service.subscribe(events)``
  (every change, in its transaction and after its commit) and ``service.prefer(advice)``
  (a dispatch bonus); service quality plugs in there.
- :mod:`gateway.workorders.webhooks` -- ``sign``/``verify_signature`` (receivers),
  ``WebhookDispatcher`` (the outbox worker).
- :mod:`gateway.workorders.keys` -- API keys and scopes; :mod:`.catalogue` -- parts per
  fault and model (``parts.toml``); :mod:`.lifecycle`, :mod:`.sla`, :mod:`.dispatch`.
"""
