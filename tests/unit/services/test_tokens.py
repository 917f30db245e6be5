"""Bearer tokens: issued for a key, they authenticate as that key's caller until they
expire or the key is revoked; anything not signed by Parley as Parley signs is refused."""

from datetime import datetime, timezone

import jwt
import pytest
from sqlalchemy import text

from app.services import organizations, tokens
from app.services.organizations import Caller
from tests.support.tokens import forged_token, with_payload_of


@pytest.fixture
def caller(org_key):
    return Caller(org_id=org_key["org_id"], key_id=org_key["key_id"])


def claims_of(app, token):
    return jwt.decode(token, app.config["JWT_SECRET"], algorithms=["HS256"],
                      audience=app.config["JWT_AUDIENCE"])


def test_issue_answers_a_bearer_token_and_its_lifetime(app, caller):
    issued = tokens.issue(caller)

    assert set(issued) == {"access_token", "token_type", "expires_in", "expires_at"}
    assert issued["token_type"] == "Bearer"
    assert issued["expires_in"] == 900


def test_expires_at_is_iso_8601_utc_and_matches_exp(app, caller):
    issued = tokens.issue(caller)

    expires_at = datetime.fromisoformat(issued["expires_at"].replace("Z", "+00:00"))
    assert issued["expires_at"].endswith("Z")
    assert expires_at.utcoffset().total_seconds() == 0
    assert expires_at.timestamp() == claims_of(app, issued["access_token"])["exp"]


def test_claims_name_the_key_and_its_organization(app, caller):
    claims = claims_of(app, tokens.issue(caller)["access_token"])

    assert claims["sub"] == caller.key_id
    assert claims["org"] == caller.org_id
    assert claims["aud"] == "parley"
    assert claims["iss"] == "parley"
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - datetime.now(timezone.utc).timestamp()) < 5


def test_each_token_has_its_own_id(app, caller):
    first, second = (claims_of(app, tokens.issue(caller)["access_token"]) for _ in range(2))

    assert first["jti"] != second["jti"]


def test_token_is_signed_with_hs256(app, caller):
    header = jwt.get_unverified_header(tokens.issue(caller)["access_token"])

    assert header["alg"] == "HS256"


def test_lifetime_and_audience_come_from_the_config(app, caller):
    app.config.update(JWT_TTL_SECONDS=60, JWT_AUDIENCE="parley-staging")

    issued = tokens.issue(caller)

    assert issued["expires_in"] == 60
    claims = claims_of(app, issued["access_token"])
    assert claims["aud"] == "parley-staging"
    assert claims["exp"] - claims["iat"] == 60


def test_a_token_authenticates_as_its_key_does(app, org_key, caller):
    token = tokens.issue(caller)["access_token"]

    assert tokens.caller_from_token(token) == organizations.authenticate(org_key["api_key"])
    assert tokens.caller_from_token(token) == caller


def test_a_token_made_as_parley_makes_them_is_accepted(app, caller):
    assert tokens.caller_from_token(forged_token(app.config, caller.key_id,
                                                 caller.org_id)) == caller


@pytest.mark.parametrize("changes", [
    {"exp": 1_000_000_000},                      # expired long ago
    {"iat": 999_999_000, "exp": 1_000_000_000},  # issued and expired long ago
    {"aud": "someone-else"},
    {"iss": "someone-else"},
    {"secret": "another-secret-" + "x" * 60},
    {"algorithm": "HS512"},
    {"algorithm": "none"},
])
def test_a_token_not_made_as_parley_makes_them_is_refused(app, caller, changes):
    token = forged_token(app.config, caller.key_id, caller.org_id, **changes)

    assert tokens.caller_from_token(token) is None


@pytest.mark.parametrize("claim", ["sub", "org", "aud", "iss", "iat", "exp", "jti"])
def test_a_token_missing_a_claim_is_refused(app, caller, claim):
    token = forged_token(app.config, caller.key_id, caller.org_id, **{claim: None})

    assert tokens.caller_from_token(token) is None


def test_a_token_with_another_payload_under_its_signature_is_refused(app, caller):
    other = organizations.create_key("globex")
    genuine = tokens.issue(caller)["access_token"]
    theirs = forged_token(app.config, other["key_id"], other["org_id"], secret="x" * 64)

    assert tokens.caller_from_token(with_payload_of(genuine, theirs)) is None


def test_a_token_of_a_revoked_key_is_refused(app, caller):
    token = tokens.issue(caller)["access_token"]

    organizations.revoke_key(caller.key_id)

    assert tokens.caller_from_token(token) is None


def test_a_token_trusted_once_is_refused_at_once_when_its_key_is_revoked(app, caller):
    token = tokens.issue(caller)["access_token"]
    assert tokens.caller_from_token(token) == caller  # now trusted (cached)

    organizations.revoke_key(caller.key_id)

    assert tokens.caller_from_token(token) is None


def test_a_token_of_an_unknown_key_is_refused(app, caller):
    token = forged_token(app.config, "key_does_not_exist", caller.org_id)

    assert tokens.caller_from_token(token) is None


def test_a_token_naming_another_organization_than_its_keys_is_refused(app, caller):
    other = organizations.create_key("globex")
    token = forged_token(app.config, caller.key_id, other["org_id"])

    assert tokens.caller_from_token(token) is None


@pytest.mark.parametrize("changes", [{"sub": 42}, {"org": ["x"]}])
def test_claims_of_the_wrong_type_are_refused(app, caller, changes):
    token = forged_token(app.config, caller.key_id, caller.org_id, **changes)

    assert tokens.caller_from_token(token) is None


def test_the_key_is_read_once_then_trusted_for_auth_cache_seconds(app, db, caller):
    token = tokens.issue(caller)["access_token"]
    assert tokens.caller_from_token(token) == caller

    # Revoked behind the process's back (as another process would): still trusted here
    # for AUTH_CACHE_SECONDS, like an API key.
    db.session.execute(text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP"))
    db.session.commit()

    assert tokens.caller_from_token(token) == caller
    organizations._known_keys.clear()  # as when AUTH_CACHE_SECONDS have passed
    assert tokens.caller_from_token(token) is None


def test_looks_like_jwt_tells_tokens_from_api_keys(app, org_key, caller):
    assert tokens.looks_like_jwt(tokens.issue(caller)["access_token"])
    assert tokens.looks_like_jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")  # unsigned
    assert not tokens.looks_like_jwt(org_key["api_key"])
    assert not tokens.looks_like_jwt("pk_abc")
    assert not tokens.looks_like_jwt("a.b")
    assert not tokens.looks_like_jwt("a.b.c.d")
    assert not tokens.looks_like_jwt("a b.c.d")
    assert not tokens.looks_like_jwt("a.b.c\n")
