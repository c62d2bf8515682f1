"""Observability: Prometheus metrics, request ids and structured logs.

Other code records events through `app.observability.metrics` (for example
`LABELS_SUBMITTED.inc()` once per new Comparison row); see docs/deployment.md.
"""
