"""The bearer tokens' secret when PARLEY_JWT_SECRET is unset: generated once in
PARLEY_HOME/jwt-secret (mode 0600), then reused by every app on that folder, however
many start at once."""

import os
import stat
import threading

import pytest

from app import create_app
from app.config import TestConfig, stored_jwt_secret


def app_on(home, monkeypatch, **overrides):
    monkeypatch.setenv("PARLEY_HOME", str(home))
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://",
                      REDIS_URL="memory://", **{"JWT_SECRET": None, **overrides})


def test_the_secret_is_generated_once_with_mode_0600(tmp_path):
    secret = stored_jwt_secret(tmp_path)

    path = tmp_path / "jwt-secret"
    assert path.read_text().strip() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 64


def test_the_secret_is_reused(tmp_path):
    assert stored_jwt_secret(tmp_path) == stored_jwt_secret(tmp_path)


def test_no_draft_is_left_behind(tmp_path):
    stored_jwt_secret(tmp_path)
    stored_jwt_secret(tmp_path)

    assert [path.name for path in tmp_path.iterdir()] == ["jwt-secret"]


def test_the_home_folder_is_made_if_missing(tmp_path):
    home = tmp_path / "not" / "yet"

    assert stored_jwt_secret(home) == (home / "jwt-secret").read_text().strip()


def test_an_existing_file_is_read_not_replaced(tmp_path):
    (tmp_path / "jwt-secret").write_text("an-operators-own-secret\n")

    assert stored_jwt_secret(tmp_path) == "an-operators-own-secret"


def test_an_empty_file_is_an_error_not_an_empty_secret(tmp_path):
    (tmp_path / "jwt-secret").write_text("\n")

    with pytest.raises(RuntimeError, match="jwt-secret"):
        stored_jwt_secret(tmp_path)


def test_a_process_that_loses_the_race_takes_the_winners_secret(tmp_path, monkeypatch):
    real_link = os.link

    def another_process_links_first(source, destination):
        (tmp_path / "winner").write_text("the-winners-secret\n")
        real_link(tmp_path / "winner", destination)
        os.unlink(tmp_path / "winner")
        real_link(source, destination)  # FileExistsError

    monkeypatch.setattr(os, "link", another_process_links_first)

    assert stored_jwt_secret(tmp_path) == "the-winners-secret"
    assert [path.name for path in tmp_path.iterdir()] == ["jwt-secret"]


def test_a_filesystem_without_hard_links_still_gets_one_secret(tmp_path, monkeypatch):
    def no_hard_links(source, destination):
        raise PermissionError("operation not permitted")

    monkeypatch.setattr(os, "link", no_hard_links)

    secret = stored_jwt_secret(tmp_path)
    assert secret and stored_jwt_secret(tmp_path) == secret
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["jwt-secret"]


def test_many_starting_at_once_agree(tmp_path):
    starting = 16
    barrier = threading.Barrier(starting)
    found = []

    def start():
        barrier.wait()
        found.append(stored_jwt_secret(tmp_path))

    threads = [threading.Thread(target=start) for _ in range(starting)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(found) == starting
    assert set(found) == {(tmp_path / "jwt-secret").read_text().strip()}


def test_two_apps_on_the_same_home_agree(tmp_path, monkeypatch):
    first = app_on(tmp_path, monkeypatch)
    second = app_on(tmp_path, monkeypatch)

    assert first.config["JWT_SECRET"] == second.config["JWT_SECRET"]
    assert first.config["JWT_SECRET"] == (tmp_path / "jwt-secret").read_text().strip()


def test_apps_on_other_homes_have_other_secrets(tmp_path, monkeypatch):
    first = app_on(tmp_path / "one", monkeypatch)
    second = app_on(tmp_path / "two", monkeypatch)

    assert first.config["JWT_SECRET"] != second.config["JWT_SECRET"]


def test_a_configured_secret_is_used_and_no_file_is_made(tmp_path, monkeypatch):
    app = app_on(tmp_path, monkeypatch, JWT_SECRET="configured-" + "s" * 60)

    assert app.config["JWT_SECRET"] == "configured-" + "s" * 60
    assert not (tmp_path / "jwt-secret").exists()
