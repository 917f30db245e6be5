"""`parley keys list` and `parley orgs list` (app/cli.py) as an operator runs them: one
JSON object a line, never a key nor its hash; an unknown organization is a JSON error
and exit code 1."""

import json

import pytest

from app.cli import main
from app.config import Config
from app.services.organizations import hash_key
from tests.support.apps import sqlite_copy


@pytest.fixture
def parley(migrated_sqlite, tmp_path, monkeypatch, capsys):
    """parley(*args) -> (exit code, stdout's JSON lines, stderr): the CLI on a
    migrated database of its own, as `parley` runs with DATABASE_URL set."""
    monkeypatch.setattr(Config, "SQLALCHEMY_DATABASE_URI", sqlite_copy(migrated_sqlite, tmp_path))
    monkeypatch.setattr(Config, "REDIS_URL", "memory://")
    monkeypatch.setenv("PARLEY_HOME", str(tmp_path))

    def run(*args: str):
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, [json.loads(line) for line in out.splitlines()], err

    return run


def created(parley, org_name: str) -> dict:
    code, (key,), _ = parley("keys", "create", org_name)
    assert code == 0
    return key


def test_keys_list_shows_every_key_with_its_organization_and_never_the_key(parley):
    first, second = created(parley, "default"), created(parley, "acme")
    revoked = created(parley, "acme")
    assert parley("keys", "revoke", revoked["key_id"])[0] == 0

    code, rows, errors = parley("keys", "list")

    assert (code, errors) == (0, "")
    assert [(row["key_id"], row["org_name"], row["org_id"], row["revoked"]) for row in rows] == [
        (first["key_id"], "default", first["org_id"], False),
        (second["key_id"], "acme", second["org_id"], False),
        (revoked["key_id"], "acme", revoked["org_id"], True)]
    assert set(rows[0]) == {"key_id", "prefix", "org_id", "org_name", "created_at",
                            "revoked", "revoked_at"}
    assert rows[0]["revoked_at"] is None and rows[2]["revoked_at"] >= rows[2]["created_at"]
    assert rows[0]["prefix"] == first["api_key"][:len(rows[0]["prefix"])]
    printed = json.dumps(rows)
    for key in (first, second, revoked):
        assert key["api_key"] not in printed and hash_key(key["api_key"]) not in printed


def test_keys_list_of_one_organization_by_name_or_id(parley):
    created(parley, "default")
    acme = created(parley, "acme")

    by_name = parley("keys", "list", "--org", "acme")[1]
    by_id = parley("keys", "list", "--org", acme["org_id"])[1]

    assert [row["key_id"] for row in by_name] == [acme["key_id"]]
    assert by_id == by_name


def test_keys_list_of_an_unknown_organization_exits_1_with_a_json_error(parley):
    created(parley, "default")

    code, rows, errors = parley("keys", "list", "--org", "acme")

    assert (code, rows) == (1, [])
    assert "acme not found" in json.loads(errors)["error"]


def test_keys_list_with_no_keys_prints_nothing(parley):
    assert parley("keys", "list") == (0, [], "")


def test_orgs_list_counts_each_organizations_active_keys(parley):
    default = created(parley, "default")
    created(parley, "acme")
    created(parley, "acme")
    parley("keys", "revoke", created(parley, "acme")["key_id"])
    parley("keys", "revoke", created(parley, "globex")["key_id"])

    code, rows, errors = parley("orgs", "list")

    assert (code, errors) == (0, "")
    assert [(row["name"], row["active_keys"]) for row in rows] == [
        ("default", 1), ("acme", 2), ("globex", 0)]
    assert rows[0]["org_id"] == default["org_id"]
    assert set(rows[0]) == {"org_id", "name", "active_keys", "created_at",
                            "dialogues_immutable"}


def test_orgs_list_shows_the_immutable_dialogues_setting(parley):
    org_id = created(parley, "acme")["org_id"]
    assert parley("orgs", "immutable-dialogues", org_id, "on")[0] == 0

    assert parley("orgs", "list")[1][0]["dialogues_immutable"] is True
