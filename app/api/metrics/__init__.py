"""GET /metrics, for Prometheus."""
