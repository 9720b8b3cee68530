"""Service quality: provider scorecards from telemetry, transparent pricing, warranty rules,
a tamper-evident per-device service history, and customer progress notices.

Built beside the work-order service (``gateway.workorders``), never inside it: every
work-order change reaches :class:`gateway.quality.service.QualityService` through the
service's extension point (``WorkOrderService.subscribe``, see
:mod:`gateway.workorders.events`), in the SAME database transaction as the change, so
the history chain, the quote, the warranty decision and the progress notice exist
exactly when the change does. Side tables are keyed by order or device id; the
work-order tables are not altered.
"""
