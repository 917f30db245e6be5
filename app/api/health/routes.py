"""GET /healthz and GET /readyz: for probes, outside the four faces (no key, no OpenAPI
document of their own, nothing of the configuration in their answers)."""

from flask import Blueprint, jsonify

from app.services import health

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process answers; no dependency is touched."""
    return _fresh(jsonify(health.liveness()), 200)


@blp.get("/readyz")
def readyz():
    """200 when the database, Redis and a worker are there; 503 naming what is not."""
    ready, report = health.readiness()
    return _fresh(jsonify(report), 200 if ready else 503)


def _fresh(response, status: int):
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
