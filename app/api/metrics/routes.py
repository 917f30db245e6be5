"""GET /metrics: every Parley metric in Prometheus's text format (app/metrics.py), for
a Prometheus server holding the token (PARLEY_METRICS_TOKEN, sent as a bearer token).
Without a token configured there is no endpoint (404): metrics name organizations'
traffic and the installation's models, which are not for everyone who can reach the
API. Outside the four faces: no API key, no rate limit, no OpenAPI document."""

import hmac

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.errors import NotFound, Unauthorized
from app.services import gauges

blp = Blueprint("metrics", __name__)


@blp.get("/metrics")
def metrics():
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        raise NotFound("Metrics are off: set PARLEY_METRICS_TOKEN to serve them here.")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("Send the metrics token (PARLEY_METRICS_TOKEN) as "
                           "'Authorization: Bearer <token>'.")
    response = Response(generate_latest(gauges.registry()), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
