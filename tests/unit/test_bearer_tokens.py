"""`Authorization: Bearer <JWT>` through a real endpoint: a valid token is its key's
organization; any token Parley did not make, or made for a key since revoked, is a 401
with the JSON error body; a Bearer API key works as before."""

import pytest

from app.services import organizations, tokens
from app.services.organizations import Caller
from tests.support.tokens import forged_token, with_payload_of


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def assert_token_refused(response):
    assert response.status_code == 401
    assert response.is_json
    body = response.get_json()
    assert body["code"] == 401
    assert body["status"] == "Unauthorized"
    assert body["message"] == "Invalid or expired token."


@pytest.fixture
def token(app, org_key):
    return tokens.issue(Caller(org_id=org_key["org_id"], key_id=org_key["key_id"]))[
        "access_token"]


def test_a_token_authenticates_as_its_keys_organization(client, auth, token):
    client.post("/api/data_sets", json={"name": "Plans"}, headers=auth)

    response = client.get("/api/data_sets", headers=bearer(token))

    assert response.status_code == 200
    assert [d["name"] for d in response.get_json()] == ["Plans"]


def test_a_token_sees_nothing_of_another_organization(client, other_auth, token):
    client.post("/api/data_sets", json={"name": "Theirs"}, headers=other_auth)

    assert client.get("/api/data_sets", headers=bearer(token)).get_json() == []


def test_what_a_token_creates_belongs_to_its_keys_organization(client, auth, token):
    client.post("/api/data_sets", json={"name": "Plans"}, headers=bearer(token))

    listed = client.get("/api/data_sets", headers=auth).get_json()

    assert [d["name"] for d in listed] == ["Plans"]


def test_the_scheme_name_is_case_insensitive(client, token):
    response = client.get("/api/data_sets", headers={"Authorization": f"bearer {token}"})

    assert response.status_code == 200


def test_a_bearer_api_key_still_works(client, org_key):
    response = client.get("/api/data_sets", headers=bearer(org_key["api_key"]))

    assert response.status_code == 200


def test_a_wrong_bearer_api_key_says_api_key(client, org_key):
    response = client.get("/api/data_sets", headers=bearer("pk_not-a-real-key"))

    assert response.status_code == 401
    assert response.get_json()["message"] == "Invalid or revoked API key."


@pytest.mark.parametrize("changes", [
    {"exp": 1_000_000_000},
    {"aud": "someone-else"},
    {"iss": "someone-else"},
    {"algorithm": "none"},
    {"algorithm": "HS512"},
    {"secret": "another-secret-" + "x" * 60},
    {"jti": None},
], ids=["expired", "wrong-audience", "wrong-issuer", "alg-none", "hs512",
        "other-secret", "missing-jti"])
def test_a_token_parley_did_not_make_is_401(client, app, org_key, changes):
    token = forged_token(app.config, org_key["key_id"], org_key["org_id"], **changes)

    assert_token_refused(client.get("/api/data_sets", headers=bearer(token)))


def test_a_tampered_token_is_401(client, app, token):
    other = organizations.create_key("globex")
    theirs = forged_token(app.config, other["key_id"], other["org_id"], secret="x" * 64)

    assert_token_refused(client.get("/api/data_sets",
                                    headers=bearer(with_payload_of(token, theirs))))


def test_a_token_with_a_wrong_signature_is_401(client, token):
    header, payload, signature = token.split(".")
    wrong = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]

    assert_token_refused(client.get("/api/data_sets",
                                    headers=bearer(f"{header}.{payload}.{wrong}")))


def test_a_token_of_a_revoked_key_is_401(client, org_key, token):
    assert client.get("/api/data_sets", headers=bearer(token)).status_code == 200

    organizations.revoke_key(org_key["key_id"])

    assert_token_refused(client.get("/api/data_sets", headers=bearer(token)))


@pytest.mark.parametrize("garbage", [
    "a.b.c",
    "x.y.",
    "eyJhbGciOiJIUzI1NiJ9.e30.",
    "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
    "e30.e30.e30",
    "W10.W10.W10",
    "bm90IGpzb24.bm90IGpzb24.bm90IGpzb24",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.AAAA",
])
def test_garbage_shaped_like_a_token_is_401(client, org_key, garbage):
    assert_token_refused(client.get("/api/data_sets", headers=bearer(garbage)))


def test_a_refused_token_stores_nothing(client, app, db, org_key):
    token = forged_token(app.config, org_key["key_id"], org_key["org_id"], exp=1_000_000_000)

    response = client.post("/api/data_sets", json={"name": "Plans"}, headers=bearer(token))

    assert_token_refused(response)
    assert client.get("/api/data_sets",
                      headers={"X-API-Key": org_key["api_key"]}).get_json() == []


def test_x_api_key_comes_first_and_takes_only_api_keys(client, org_key, token):
    with_both = {"X-API-Key": org_key["api_key"], **bearer("a.b.c")}
    assert client.get("/api/data_sets", headers=with_both).status_code == 200

    response = client.get("/api/data_sets", headers={"X-API-Key": token})
    assert response.status_code == 401
    assert response.get_json()["message"] == "Invalid or revoked API key."
