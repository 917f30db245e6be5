"""GET /metrics (app/api/metrics/routes.py): off (404) until PARLEY_METRICS_TOKEN is
set, then only for a request bearing that token; Prometheus's text format; and every
request the app answers counted by face, route pattern, method and status."""

import uuid

from prometheus_client import REGISTRY

TOKEN = "s3cret-metrics-token"


def test_metrics_are_off_without_a_token(client):
    response = client.get("/metrics")

    assert response.status_code == 404
    assert "PARLEY_METRICS_TOKEN" in response.get_json()["message"]


def test_metrics_need_the_token(app, client):
    app.config["METRICS_TOKEN"] = TOKEN

    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    api_key_instead = client.get("/metrics", headers={"X-API-Key": TOKEN})

    assert [r.status_code for r in (missing, wrong, api_key_instead)] == [401, 401, 401]
    assert missing.is_json and "Authorization: Bearer" in missing.get_json()["message"]


def test_metrics_are_prometheus_text(app, client):
    app.config["METRICS_TOKEN"] = TOKEN

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    assert response.headers["Cache-Control"] == "no-store"
    assert "# TYPE parley_http_requests_total counter" in response.get_data(as_text=True)


def test_requests_are_counted_by_face_route_method_and_status(client, auth):
    labels = {"face": "polling", "route": "/api/task_status/<task_id>", "method": "GET",
              "status": "404"}
    before = REGISTRY.get_sample_value("parley_http_requests_total", labels) or 0
    timed = {key: labels[key] for key in ("face", "route", "method")}
    timed_before = REGISTRY.get_sample_value("parley_http_request_duration_seconds_count",
                                             timed) or 0

    for _ in range(2):  # two different ids, one route
        assert client.get(f"/api/task_status/{uuid.uuid4()}", headers=auth).status_code == 404

    assert REGISTRY.get_sample_value("parley_http_requests_total", labels) == before + 2
    assert REGISTRY.get_sample_value("parley_http_request_duration_seconds_count",
                                     timed) == timed_before + 2


def test_a_request_refused_before_its_view_is_counted_too(client):
    labels = {"face": "polling", "route": "/api/task_status/<task_id>", "method": "GET",
              "status": "401"}
    before = REGISTRY.get_sample_value("parley_http_requests_total", labels) or 0

    assert client.get(f"/api/task_status/{uuid.uuid4()}").status_code == 401

    assert REGISTRY.get_sample_value("parley_http_requests_total", labels) == before + 1


def test_a_path_no_route_matches_is_counted_as_unmatched(client):
    labels = {"face": "none", "route": "unmatched", "method": "GET", "status": "404"}
    before = REGISTRY.get_sample_value("parley_http_requests_total", labels) or 0

    client.get(f"/no/such/{uuid.uuid4()}")

    assert REGISTRY.get_sample_value("parley_http_requests_total", labels) == before + 1
