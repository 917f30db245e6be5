"""API-key authentication: X-API-Key or Authorization: Bearer; keys stored hashed;
the OpenAPI document and its pages are public and describe every /api path."""

import re

import pytest
from sqlalchemy import text

from app.services import organizations


def assert_401(response):
    assert response.status_code == 401
    assert response.is_json
    body = response.get_json()
    assert body["code"] == 401
    assert body["status"] == "Unauthorized"
    assert body["message"]


@pytest.mark.parametrize("path", ["/api/data_sets", "/api/conversations/1",
                                  "/api/task_status/abc"])
def test_missing_key_is_401_json(client, path):
    assert_401(client.get(path))


def test_missing_key_message_says_how_to_send_one(client):
    message = client.get("/api/data_sets").get_json()["message"]

    assert "X-API-Key" in message


def test_wrong_key_is_401(client, org_key):
    assert_401(client.get("/api/data_sets", headers={"X-API-Key": "pk_not-a-real-key"}))


def test_missing_key_on_post_is_401_and_stores_nothing(client, db):
    response = client.post("/api/data_sets", json={"name": "Plans"})

    assert_401(response)
    assert db.session.execute(text("SELECT count(*) FROM data_sets")).scalar() == 0


def test_x_api_key_header_works(client, org_key):
    response = client.get("/api/data_sets", headers={"X-API-Key": org_key["api_key"]})

    assert response.status_code == 200


def test_bearer_token_works(client, org_key):
    response = client.get("/api/data_sets",
                          headers={"Authorization": f"Bearer {org_key['api_key']}"})

    assert response.status_code == 200


def test_other_authorization_scheme_is_401(client, org_key):
    response = client.get("/api/data_sets",
                          headers={"Authorization": f"Basic {org_key['api_key']}"})

    assert_401(response)


def test_bearer_and_x_api_key_reach_the_same_organization(client, org_key):
    client.post("/api/data_sets", json={"name": "Plans"},
                headers={"X-API-Key": org_key["api_key"]})

    listed = client.get("/api/data_sets",
                        headers={"Authorization": f"Bearer {org_key['api_key']}"}).get_json()

    assert [d["name"] for d in listed] == ["Plans"]


def test_revoked_key_is_401(client, org_key):
    organizations.revoke_key(org_key["key_id"])

    assert_401(client.get("/api/data_sets", headers={"X-API-Key": org_key["api_key"]}))


def test_revoking_one_key_leaves_the_others_working(client, org_key):
    second = organizations.create_key("acme")
    organizations.revoke_key(org_key["key_id"])

    response = client.get("/api/data_sets", headers={"X-API-Key": second["api_key"]})

    assert response.status_code == 200


def test_keys_are_stored_hashed(db, org_key):
    rows = db.session.execute(text("SELECT * FROM api_keys")).all()

    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0])
    assert org_key["api_key"] not in stored
    assert organizations.hash_key(org_key["api_key"]) in stored


def test_created_key_is_returned_once_in_plain(org_key):
    assert org_key["api_key"].startswith(organizations.KEY_PREFIX)
    assert org_key["key_id"] and org_key["org_id"]


def test_openapi_json_needs_no_key(client):
    response = client.get("/openapi.json")

    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.")


def test_docs_page_needs_no_key(client):
    response = client.get("/docs")

    assert response.status_code == 200
    assert b"swagger" in response.data.lower()


def test_openapi_lists_every_api_path(client, app):
    documented = set(client.get("/openapi.json").get_json()["paths"])
    served = {re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}

    assert served
    assert served <= documented


def test_openapi_declares_both_security_schemes(client):
    schemes = client.get("/openapi.json").get_json()["components"]["securitySchemes"]

    assert schemes["ApiKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["BearerKey"]["type"] == "http"
    assert schemes["BearerKey"]["scheme"] == "bearer"


def test_the_bearer_scheme_says_it_takes_a_key_or_a_token(client):
    bearer = client.get("/openapi.json").get_json()["components"]["securitySchemes"][
        "BearerKey"]

    assert bearer["bearerFormat"] == "JWT or API key"
    assert "API key" in bearer["description"]
    assert "POST /v1/auth/token" in bearer["description"]


def test_every_api_operation_declares_its_security(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    operations = [(path, method, operation) for path, item in paths.items()
                  if path.startswith("/api/")
                  for method, operation in item.items() if method in {"get", "post"}]

    assert operations
    for path, method, operation in operations:
        names = {name for requirement in operation.get("security", []) for name in requirement}
        assert names == {"ApiKeyHeader", "BearerKey"}, (method, path)


def test_a_key_revoked_after_use_is_refused_at_once(client, org_key, auth):
    assert client.get("/api/data_sets", headers=auth).status_code == 200  # now trusted

    organizations.revoke_key(org_key["key_id"])

    assert client.get("/api/data_sets", headers=auth).status_code == 401
