"""Health and readiness probes: /healthz, /readyz."""
