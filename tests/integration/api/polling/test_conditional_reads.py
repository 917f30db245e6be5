"""Conditional reads for polling clients, on both databases: the task status and the
conversation's history carry an ETag, and If-None-Match naming the current one is
answered 304 Not Modified with no body; a change gives a new tag."""

import pytest

from tests.support.data import ask
from tests.support.work import answer

pytestmark = pytest.mark.integration


def read(client, path: str, auth: dict, tag: str | None = None):
    return client.get(path, headers={**auth, **({"If-None-Match": tag} if tag else {})})


def test_an_unchanged_task_status_is_304_with_no_body(client, auth, conversation_id):
    path = f"/api/task_status/{ask(client, auth, conversation_id)}"
    first = read(client, path, auth)
    assert first.status_code == 200 and first.headers["ETag"]

    again = read(client, path, auth, first.headers["ETag"])

    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_a_finished_task_has_a_new_tag(client, auth, conversation_id):
    task_id = ask(client, auth, conversation_id)
    path = f"/api/task_status/{task_id}"
    pending = read(client, path, auth).headers["ETag"]
    answer(task_id)

    finished = read(client, path, auth, pending)

    assert finished.status_code == 200
    assert finished.get_json()["state"] == "SUCCESS"
    assert finished.headers["ETag"] != pending


def test_the_history_is_304_until_a_message_is_added(client, auth, conversation_id):
    path = f"/api/conversations/{conversation_id}"
    tag = read(client, path, auth).headers["ETag"]
    assert read(client, path, auth, tag).status_code == 304

    ask(client, auth, conversation_id)

    changed = read(client, path, auth, tag)
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert len(changed.get_json()["history"]) == 1


def test_another_organizations_tag_reveals_nothing(client, auth, other_auth, conversation_id):
    path = f"/api/conversations/{conversation_id}"
    tag = read(client, path, auth).headers["ETag"]

    assert read(client, path, other_auth, tag).status_code == 404
