"""The dialogue store face (/dialogue), driven through the Flask test client on BOTH
databases: every test runs once on a migrated SQLite file and once on PostgreSQL
(tests/integration/api/conftest.py).
"""

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Conversation, Message, Organization
from app.services import dialogues as dialogue_service
from tests.support.data import ask

pytestmark = pytest.mark.integration


# -- helpers -------------------------------------------------------------------------------

def create(client, auth, **body) -> dict:
    response = client.post("/dialogue", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fetch(client, auth, dialogue_id) -> dict:
    response = client.get(f"/dialogue/{dialogue_id}", headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def msg(content: str, role: str = "user", **fields) -> dict:
    return {"content": content, "role": role, **fields}


def error(response, status: int, code: str) -> dict:
    """Assert the dialogue store's error shape; the body."""
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == code, body
    assert body["message"]
    assert body["requestId"] == response.headers["X-Request-Id"]
    return body


def walk(client, auth, path: str, **query) -> tuple[list[dict], int]:
    """Every item of a paged listing, following `next`; and how many pages it took."""
    items, cursor, pages = [], None, 0
    while True:
        params = {**query, **({"next": cursor} if cursor else {})}
        response = client.get(path, query_string=params, headers=auth)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items += body["items"]
        pages += 1
        cursor = body.get("next")
        if not cursor:
            return items, pages
        assert pages < 200, "the listing never ends"


def listed(client, auth, **query) -> list[str]:
    response = client.get("/dialogue", query_string=query, headers=auth)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def messages_of(client, auth, dialogue_id, **query) -> list[dict]:
    response = client.get(f"/dialogue/{dialogue_id}/messages", query_string=query,
                          headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z too


def row_of(org_id: str, dialogue_id: str) -> Conversation:
    """The conversation row behind a dialogue (its integer id is the polling face's)."""
    return db.session.scalar(select(Conversation).where(
        Conversation.org_id == org_id, Conversation.public_id == dialogue_id))


def make_cursor(**data) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -- POST /dialogue ------------------------------------------------------------------------

def test_create_generates_an_id(client, auth):
    first, second = create(client, auth), create(client, auth)

    assert first["id"] and second["id"] and first["id"] != second["id"]
    assert fetch(client, auth, first["id"])["id"] == first["id"]


def test_create_keeps_a_custom_id(client, auth):
    created = create(client, auth, id="support-42")

    assert created["id"] == "support-42"
    assert fetch(client, auth, "support-42")["id"] == "support-42"


def test_create_with_a_taken_id_is_409_and_changes_nothing(client, auth):
    create(client, auth, id="taken", tags=["first"], message=msg("original"))
    parent = create(client, auth)

    response = client.post("/dialogue", json={
        "id": "taken", "tags": ["second"], "threadOf": parent["id"],
        "messages": [msg("intruder"), msg("intruder 2")]}, headers=auth)

    error(response, 409, "DIALOGUE_ALREADY_EXISTS")
    kept = fetch(client, auth, "taken")
    assert kept["tags"] == ["first"]
    assert kept["totalMessages"] == 1
    assert [m["content"] for m in kept["messages"]] == ["original"]
    assert "threadOf" not in kept
    assert fetch(client, auth, parent["id"])["threadCount"] == 0
    assert sorted(listed(client, auth)) == sorted(["taken", parent["id"]])


def test_the_same_custom_id_works_in_another_organization(client, auth, other_auth):
    create(client, auth, id="shared-id", tags=["mine"])

    theirs = create(client, other_auth, id="shared-id", tags=["theirs"])

    assert theirs["id"] == "shared-id"
    assert fetch(client, auth, "shared-id")["tags"] == ["mine"]
    assert fetch(client, other_auth, "shared-id")["tags"] == ["theirs"]
    assert fetch(client, auth, "shared-id")["projectId"] != theirs["projectId"]


def test_create_in_a_namespace(client, auth):
    created = create(client, auth, namespace="user_123")

    assert created["namespace"] == "user_123"
    assert fetch(client, auth, created["id"])["namespace"] == "user_123"


def test_create_a_thread_counts_it_on_the_parent(client, auth):
    parent = create(client, auth)
    assert parent["threadCount"] == 0

    child = create(client, auth, threadOf=parent["id"])

    assert child["threadOf"] == parent["id"]
    assert fetch(client, auth, child["id"])["threadOf"] == parent["id"]
    assert fetch(client, auth, parent["id"])["threadCount"] == 1
    assert "threadOf" not in fetch(client, auth, parent["id"])


def test_create_a_thread_of_a_missing_parent_is_404(client, auth):
    response = client.post("/dialogue", json={"id": "orphan", "threadOf": "no-such"},
                           headers=auth)

    error(response, 404, "PARENT_DIALOGUE_NOT_FOUND")
    assert listed(client, auth) == []


def test_create_with_message_and_messages_is_400(client, auth):
    response = client.post("/dialogue", json={"message": msg("a"), "messages": [msg("b")]},
                           headers=auth)

    error(response, 400, "INVALID_INPUT")
    assert listed(client, auth) == []


def test_create_with_26_messages_is_400_and_creates_nothing(client, auth):
    response = client.post("/dialogue", json={
        "id": "too-big", "messages": [msg(f"m{i}") for i in range(26)]}, headers=auth)

    error(response, 400, "TOO_MANY_MESSAGES")
    error(client.get("/dialogue/too-big", headers=auth), 404, "DIALOGUE_NOT_FOUND")
    assert listed(client, auth) == []


def test_create_with_25_messages_works(client, auth):
    created = create(client, auth, messages=[msg(f"m{i}") for i in range(25)])

    assert created["totalMessages"] == 25
    assert [m["content"] for m in created["messages"]] == [f"m{i}" for i in range(25)]
    assert fetch(client, auth, created["id"])["totalMessages"] == 25


def test_create_keeps_the_messages_fields(client, auth):
    given = [msg("Hello", id="m-1", name="Ada", created="2025-03-04T05:06:07.123456Z",
                 tags=["greeting", "first"], metadata={"source": {"channel": "web"}}),
             msg("Second", id="m-2")]

    created = create(client, auth, messages=given)

    for shown in (created["messages"], messages_of(client, auth, created["id"])):
        first, second = shown
        assert first["id"] == "m-1" and second["id"] == "m-2"
        assert first["content"] == "Hello"
        assert first["name"] == "Ada"
        assert instant(first["created"]) == datetime(2025, 3, 4, 5, 6, 7, 123456,
                                                     tzinfo=UTC)
        assert first["tags"] == ["greeting", "first"]
        assert first["metadata"] == {"source": {"channel": "web"}}
        assert "name" not in second
        assert second["tags"] == [] and second["metadata"] == {}


def test_a_created_timestamp_with_an_offset_comes_back_as_that_instant(client, auth):
    """SQLite stores no zone: the instant must be written in UTC, not as given."""
    given = "2024-05-01T12:00:00+02:00"

    created = create(client, auth, message=msg("Hi", created=given))

    expected = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert instant(created["messages"][0]["created"]) == expected
    assert instant(messages_of(client, auth, created["id"])[0]["created"]) == expected
    assert instant(fetch(client, auth, created["id"])["lastMessageCreated"]) == expected


def test_the_assistant_role_round_trips(client, auth):
    created = create(client, auth, messages=[msg("Q"), msg("A", role="assistant"),
                                             msg("Be brief.", role="system")])

    roles = ["user", "assistant", "system"]
    assert [m["role"] for m in created["messages"]] == roles
    assert [m["role"] for m in messages_of(client, auth, created["id"])] == roles
    assert [m["role"] for m in fetch(client, auth, created["id"])["messages"]] == roles


@pytest.mark.parametrize("role", ["agent", "robot", "", None])
def test_create_with_a_bad_role_is_400(client, auth, role):
    response = client.post("/dialogue", json={"message": {"content": "x", "role": role}},
                           headers=auth)

    error(response, 400, "INVALID_INPUT")
    assert listed(client, auth) == []


def test_create_answers_the_whole_dialogue(client, auth, org):
    before = datetime.now(UTC)

    created = create(client, auth, message=msg("Hello"), tags=["support"],
                     metadata={"userId": "u1"}, state={"step": 1})

    after = datetime.now(UTC)
    assert created["projectId"] == org["org_id"]
    assert created["totalMessages"] == 1
    assert created["threadCount"] == 0
    assert created["status"] == "active"
    assert created["tags"] == ["support"]
    assert created["metadata"] == {"userId": "u1"}
    assert created["state"] == {"step": 1}
    assert before <= instant(created["created"]) <= after
    assert before <= instant(created["modified"]) <= after
    assert [m["content"] for m in created["messages"]] == ["Hello"]
    assert created["messages"][0]["id"]


# -- PUT /dialogue/{id} --------------------------------------------------------------------

def test_update_replaces_the_tags(client, auth):
    created = create(client, auth, tags=["a", "b"])

    response = client.put(f"/dialogue/{created['id']}", json={"tags": ["c"]}, headers=auth)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["tags"] == ["c"]
    assert fetch(client, auth, created["id"])["tags"] == ["c"]


def test_update_sets_the_label(client, auth):
    created = create(client, auth)

    response = client.put(f"/dialogue/{created['id']}", json={"label": "L" * 128},
                          headers=auth)

    assert response.status_code == 200, response.get_json()
    assert fetch(client, auth, created["id"])["label"] == "L" * 128


def test_update_with_a_129_character_label_is_400(client, auth):
    created = create(client, auth)
    client.put(f"/dialogue/{created['id']}", json={"label": "kept"}, headers=auth)

    response = client.put(f"/dialogue/{created['id']}", json={"label": "L" * 129},
                          headers=auth)

    error(response, 400, "INVALID_INPUT")
    assert fetch(client, auth, created["id"])["label"] == "kept"


def test_update_merges_the_state(client, auth):
    created = create(client, auth, state={"step": 1, "kept": "yes"})

    response = client.put(f"/dialogue/{created['id']}",
                          json={"state": {"step": 2, "added": [1, 2]}}, headers=auth)

    expected = {"step": 2, "kept": "yes", "added": [1, 2]}
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == expected
    assert fetch(client, auth, created["id"])["state"] == expected


def test_update_appends_messages(client, auth):
    created = create(client, auth, messages=[msg("one"), msg("two")])

    response = client.put(f"/dialogue/{created['id']}",
                          json={"messages": [msg("three", role="assistant"), msg("four")]},
                          headers=auth)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["totalMessages"] == 4
    assert [m["content"] for m in body["messages"]] == ["three", "four"]
    assert [m["content"] for m in messages_of(client, auth, created["id"])] == [
        "one", "two", "three", "four"]


def test_update_appends_a_single_message(client, auth):
    created = create(client, auth, message=msg("one"))

    response = client.put(f"/dialogue/{created['id']}", json={"message": msg("two")},
                          headers=auth)

    assert response.status_code == 200, response.get_json()
    assert fetch(client, auth, created["id"])["totalMessages"] == 2


def test_update_with_26_messages_is_400_and_appends_none(client, auth):
    created = create(client, auth, message=msg("one"))

    response = client.put(f"/dialogue/{created['id']}",
                          json={"messages": [msg(f"m{i}") for i in range(26)]}, headers=auth)

    error(response, 400, "TOO_MANY_MESSAGES")
    assert fetch(client, auth, created["id"])["totalMessages"] == 1


@pytest.mark.parametrize("metadata", [{"userId": "other"}, {}, None])
def test_update_with_metadata_is_400_and_changes_nothing(client, auth, metadata):
    created = create(client, auth, metadata={"userId": "u1"}, tags=["a"])

    response = client.put(f"/dialogue/{created['id']}",
                          json={"metadata": metadata, "tags": ["b"]}, headers=auth)

    error(response, 400, "INVALID_INPUT")
    after = fetch(client, auth, created["id"])
    assert after["metadata"] == {"userId": "u1"}
    assert after["tags"] == ["a"]


def test_update_of_an_ended_dialogue_is_409_and_changes_nothing(client, auth):
    created = create(client, auth, tags=["a"], state={"s": 1}, message=msg("one"))
    assert client.post(f"/dialogue/{created['id']}/end", headers=auth).status_code == 200

    response = client.put(f"/dialogue/{created['id']}", json={
        "tags": ["b"], "label": "new", "state": {"s": 2}, "message": msg("two")},
        headers=auth)

    error(response, 409, "DIALOGUE_ENDED")
    after = fetch(client, auth, created["id"])
    assert after["tags"] == ["a"]
    assert after["state"] == {"s": 1}
    assert "label" not in after
    assert after["totalMessages"] == 1
    assert after["status"] == "ended"


def test_update_of_an_unknown_dialogue_is_404(client, auth):
    response = client.put("/dialogue/no-such", json={"tags": ["x"]}, headers=auth)

    error(response, 404, "DIALOGUE_NOT_FOUND")


def test_update_without_an_id_is_400_missing_parameter(client, auth):
    response = client.put("/dialogue", json={"tags": ["x"]}, headers=auth)

    error(response, 400, "MISSING_PARAMETER")


def test_update_state_merges_on_an_ended_dialogue(client, auth):
    created = create(client, auth, state={"step": 1, "kept": True})
    client.post(f"/dialogue/{created['id']}/end", headers=auth)

    response = client.put(f"/dialogue/{created['id']}/state",
                          json={"state": {"step": 9, "added": "x"}}, headers=auth)

    expected = {"step": 9, "kept": True, "added": "x"}
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == expected
    after = fetch(client, auth, created["id"])
    assert after["state"] == expected
    assert after["status"] == "ended"


# -- GET /dialogue/{id} --------------------------------------------------------------------

def test_get_shows_the_10_latest_messages_in_order_and_the_true_count(client, auth):
    created = create(client, auth, messages=[msg(f"m{i}") for i in range(12)])

    got = fetch(client, auth, created["id"])

    assert [m["content"] for m in got["messages"]] == [f"m{i}" for i in range(2, 12)]
    assert got["totalMessages"] == 12
    newest = max(instant(m["created"]) for m in created["messages"])
    assert instant(got["lastMessageCreated"]) == newest
    assert instant(got["lastMessageCreated"]) == instant(got["messages"][-1]["created"])


def test_get_of_a_dialogue_without_messages(client, auth):
    created = create(client, auth)

    got = fetch(client, auth, created["id"])

    assert got["totalMessages"] == 0
    assert got["messages"] == []
    assert "lastMessageCreated" not in got


# -- GET /dialogue/{id}/messages -----------------------------------------------------------

@pytest.mark.parametrize("order", ["asc", "desc"])
def test_messages_pages_give_every_message_once_in_order(client, auth, order):
    created = create(client, auth, messages=[msg(f"m{i}") for i in range(10)])
    expected = [m["id"] for m in created["messages"]]

    items, pages = walk(client, auth, f"/dialogue/{created['id']}/messages",
                        limit=3, order=order)

    assert [m["id"] for m in items] == (expected if order == "asc" else expected[::-1])
    assert pages == 4


def test_messages_default_to_oldest_first(client, auth):
    created = create(client, auth, messages=[msg("a"), msg("b"), msg("c")])

    assert [m["content"] for m in messages_of(client, auth, created["id"])] == ["a", "b", "c"]


def test_messages_pages_end_exactly_at_a_full_page(client, auth):
    created = create(client, auth, messages=[msg(f"m{i}") for i in range(6)])

    items, pages = walk(client, auth, f"/dialogue/{created['id']}/messages", limit=3)

    assert [m["content"] for m in items] == [f"m{i}" for i in range(6)]
    assert pages == 2


@pytest.mark.parametrize("cursor", ["garbage", "!!!", make_cursor(k="dialogues", o="asc",
                                                                  p=[1])])
def test_messages_with_a_bad_cursor_is_400(client, auth, cursor):
    created = create(client, auth, messages=[msg("a")])

    response = client.get(f"/dialogue/{created['id']}/messages",
                          query_string={"next": cursor}, headers=auth)

    error(response, 400, "INVALID_INPUT")


def test_messages_cursor_used_with_the_other_order_is_400(client, auth):
    created = create(client, auth, messages=[msg(f"m{i}") for i in range(4)])
    page = client.get(f"/dialogue/{created['id']}/messages",
                      query_string={"limit": 2, "order": "asc"}, headers=auth).get_json()
    assert page["next"]

    response = client.get(f"/dialogue/{created['id']}/messages",
                          query_string={"limit": 2, "order": "desc", "next": page["next"]},
                          headers=auth)

    error(response, 400, "INVALID_INPUT")


def test_messages_cursor_of_another_dialogue_is_400(client, auth):
    first = create(client, auth, messages=[msg(f"m{i}") for i in range(4)])
    second = create(client, auth, messages=[msg(f"m{i}") for i in range(4)])
    page = client.get(f"/dialogue/{first['id']}/messages", query_string={"limit": 2},
                      headers=auth).get_json()

    response = client.get(f"/dialogue/{second['id']}/messages",
                          query_string={"limit": 2, "next": page["next"]}, headers=auth)

    error(response, 400, "INVALID_INPUT")


def test_a_cursor_without_an_order_is_400_not_500(client, auth):
    """A cursor made by hand without its order is bad input, not a server error."""
    create(client, auth)
    cursor = make_cursor(k="dialogues", p=["2020-01-01T00:00:00+00:00", 1])

    response = client.get("/dialogue", query_string={"next": cursor}, headers=auth)

    error(response, 400, "INVALID_INPUT")


# -- DELETE /dialogue/{id}/message/{messageId} ---------------------------------------------

def test_delete_message_removes_it(client, auth):
    created = create(client, auth, messages=[msg("a", id="keep-1"), msg("b", id="gone"),
                                             msg("c", id="keep-2")])

    response = client.delete(f"/dialogue/{created['id']}/message/gone", headers=auth)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"success": True, "id": "gone"}
    assert [m["id"] for m in messages_of(client, auth, created["id"])] == ["keep-1", "keep-2"]
    assert fetch(client, auth, created["id"])["totalMessages"] == 2


def test_delete_an_unknown_message_is_404(client, auth):
    created = create(client, auth, message=msg("a"))

    response = client.delete(f"/dialogue/{created['id']}/message/no-such", headers=auth)

    error(response, 404, "MESSAGE_NOT_FOUND")
    assert fetch(client, auth, created["id"])["totalMessages"] == 1


def test_delete_a_question_still_being_answered_is_409(client, auth, org):
    created = create(client, auth)
    conversation_id = row_of(org["org_id"], created["id"]).id
    task_id = ask(client, auth, conversation_id, "Is this still pending?")
    status = client.get(f"/api/task_status/{task_id}", headers=auth).get_json()
    assert status["state"] == "PENDING"
    [question] = messages_of(client, auth, created["id"])
    assert question["content"] == "Is this still pending?"

    response = client.delete(f"/dialogue/{created['id']}/message/{question['id']}",
                             headers=auth)

    error(response, 409, "MESSAGE_IN_USE")
    assert [m["id"] for m in messages_of(client, auth, created["id"])] == [question["id"]]


# -- GET /dialogue -------------------------------------------------------------------------

def test_list_is_newest_first_by_default(client, auth):
    ids = [create(client, auth)["id"] for _ in range(4)]

    assert listed(client, auth) == ids[::-1]


def test_list_in_ascending_order(client, auth):
    ids = [create(client, auth)["id"] for _ in range(4)]

    assert listed(client, auth, order="asc") == ids


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_pages_give_every_dialogue_once(client, auth, order):
    ids = [create(client, auth)["id"] for _ in range(7)]

    items, pages = walk(client, auth, "/dialogue", limit=3, order=order)

    assert [d["id"] for d in items] == (ids if order == "asc" else ids[::-1])
    assert pages == 3


def test_list_filters_by_namespace(client, auth):
    mine = create(client, auth, namespace="alice")["id"]
    create(client, auth, namespace="bob")
    create(client, auth)

    assert listed(client, auth, namespace="alice") == [mine]


def test_list_filters_by_thread(client, auth):
    parent = create(client, auth)["id"]
    threads = [create(client, auth, threadOf=parent)["id"] for _ in range(2)]
    create(client, auth, threadOf=create(client, auth)["id"])

    assert listed(client, auth, threadOf=parent, order="asc") == threads
    assert listed(client, auth, threadOf="no-such") == []


def test_list_filters_by_created_prefix(client, auth):
    created = create(client, auth)
    day = created["created"][:10]  # its UTC date: YYYY-MM-DD

    for prefix in (day[:4], day[:7], day):
        assert listed(client, auth, created=prefix) == [created["id"]], prefix
    assert listed(client, auth, created=str(int(day[:4]) - 3)) == []
    other_month = (datetime.fromisoformat(day) - timedelta(days=40)).strftime("%Y-%m")
    assert listed(client, auth, created=other_month) == []


def test_list_filters_by_start_and_end_dates(client, auth):
    created = create(client, auth)
    day = datetime.fromisoformat(created["created"][:10]).date()
    before, after = str(day - timedelta(days=1)), str(day + timedelta(days=1))
    mine = [created["id"]]

    assert listed(client, auth, startDate=str(day)) == mine
    assert listed(client, auth, endDate=str(day)) == mine  # the whole of that day
    assert listed(client, auth, startDate=str(day), endDate=str(day)) == mine
    assert listed(client, auth, startDate=after) == []
    assert listed(client, auth, endDate=before) == []


def test_list_filters_by_start_and_end_timestamps(client, auth):
    created = create(client, auth)
    moment = instant(created["created"])
    just_before = (moment - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    just_after = (moment + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    assert listed(client, auth, startDate=just_before, endDate=just_after) == [created["id"]]
    assert listed(client, auth, startDate=just_after) == []
    assert listed(client, auth, endDate=just_before) == []


@pytest.mark.parametrize("created", ["x", "26", "2026-13", "2026-1", "2026-02-30",
                                     "2026-01-01T00"])
def test_list_with_a_bad_created_prefix_is_400(client, auth, created):
    error(client.get("/dialogue", query_string={"created": created}, headers=auth),
          400, "INVALID_INPUT")


@pytest.mark.parametrize("name", ["startDate", "endDate"])
@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026-01-01T25:00"])
def test_list_with_a_bad_date_is_400(client, auth, name, value):
    error(client.get("/dialogue", query_string={name: value}, headers=auth),
          400, "INVALID_INPUT")


@pytest.mark.parametrize("limit", ["0", "101", "x", "-1"])
def test_list_with_a_bad_limit_is_400(client, auth, limit):
    error(client.get("/dialogue", query_string={"limit": limit}, headers=auth),
          400, "INVALID_INPUT")


def test_list_with_a_bad_order_is_400(client, auth):
    error(client.get("/dialogue", query_string={"order": "newest"}, headers=auth),
          400, "INVALID_INPUT")


def test_list_cursor_used_with_the_other_order_is_400(client, auth):
    for _ in range(3):
        create(client, auth)
    page = client.get("/dialogue", query_string={"limit": 2}, headers=auth).get_json()
    assert page["next"]

    response = client.get("/dialogue", query_string={"limit": 2, "order": "asc",
                                                     "next": page["next"]}, headers=auth)

    error(response, 400, "INVALID_INPUT")


# -- paging while dialogues are created ----------------------------------------------------

@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_pages_under_inserts_between_pages(client, auth, order):
    existing = [create(client, auth)["id"] for _ in range(10)]
    made, seen, cursor = [], [], None

    for _ in range(50):
        params = {"limit": 3, "order": order, **({"next": cursor} if cursor else {})}
        body = client.get("/dialogue", query_string=params, headers=auth).get_json()
        seen += [d["id"] for d in body["items"]]
        cursor = body.get("next")
        if not cursor:
            break
        made += [create(client, auth)["id"] for _ in range(2)]  # between two pages
    else:
        pytest.fail("the listing never ended")

    assert made
    assert len(seen) == len(set(seen)), "a dialogue was listed twice"
    assert [d for d in seen if d in existing] == (existing if order == "asc"
                                                  else existing[::-1])
    if order == "asc":
        assert [d for d in seen if d in made] == made  # later, so still ahead
    else:
        assert not set(seen) & set(made)  # newer than the first page


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_pages_under_concurrent_inserts_from_another_thread(app, client, auth, org,
                                                                 order):
    existing = [create(client, auth)["id"] for _ in range(12)]
    made, failures = [], []
    started, stop = threading.Event(), threading.Event()

    def creator():
        with app.app_context():
            try:
                while not stop.is_set() and len(made) < 150:
                    view = dialogue_service.create_dialogue(org["org_id"], messages=[])
                    made.append(view.dialogue.public_id)
                    started.set()
                    time.sleep(0.002)
            except Exception as exc:  # noqa: BLE001 - reported by the main thread
                failures.append(exc)
                started.set()
            finally:
                db.session.remove()

    thread = threading.Thread(target=creator, daemon=True)
    thread.start()
    assert started.wait(10)
    made_before = len(made)
    try:
        seen, pages = [], 0
        cursor = None
        while True:
            params = {"limit": 3, "order": order, **({"next": cursor} if cursor else {})}
            response = client.get("/dialogue", query_string=params, headers=auth)
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            seen += [d["id"] for d in body["items"]]
            pages += 1
            cursor = body.get("next")
            if not cursor:
                break
            assert pages < 500
    finally:
        stop.set()
        thread.join(10)
    made_meanwhile = len(made) - made_before

    assert not failures, failures
    assert made_meanwhile > 0, "no dialogue was created while paging"
    assert len(seen) == len(set(seen)), "a dialogue was listed twice"
    assert [d for d in seen if d in existing] == (existing if order == "asc"
                                                  else existing[::-1])


# -- DELETE /dialogue/{id} -----------------------------------------------------------------

def test_delete_a_dialogue(client, auth):
    created = create(client, auth, message=msg("a"))
    kept = create(client, auth)

    response = client.delete(f"/dialogue/{created['id']}", headers=auth)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"success": True, "id": created["id"]}
    error(client.get(f"/dialogue/{created['id']}", headers=auth), 404, "DIALOGUE_NOT_FOUND")
    assert listed(client, auth) == [kept["id"]]


def test_delete_twice_is_404(client, auth):
    created = create(client, auth)
    client.delete(f"/dialogue/{created['id']}", headers=auth)

    error(client.delete(f"/dialogue/{created['id']}", headers=auth), 404,
          "DIALOGUE_NOT_FOUND")


def test_delete_keeps_the_threads_without_their_parent(client, auth):
    parent = create(client, auth)
    threads = [create(client, auth, threadOf=parent["id"])["id"] for _ in range(2)]

    client.delete(f"/dialogue/{parent['id']}", headers=auth)

    for thread in threads:
        got = fetch(client, auth, thread)
        assert "threadOf" not in got
    assert sorted(listed(client, auth)) == sorted(threads)


def test_delete_a_thread_lowers_the_parents_thread_count(client, auth):
    parent = create(client, auth)
    first = create(client, auth, threadOf=parent["id"])
    create(client, auth, threadOf=parent["id"])
    assert fetch(client, auth, parent["id"])["threadCount"] == 2

    client.delete(f"/dialogue/{first['id']}", headers=auth)

    assert fetch(client, auth, parent["id"])["threadCount"] == 1


def test_delete_in_an_immutable_organization_is_409(client, auth, org):
    created = create(client, auth, message=msg("a"))
    db.session.execute(update(Organization).where(Organization.id == org["org_id"])
                       .values(dialogues_immutable=True))
    db.session.commit()

    response = client.delete(f"/dialogue/{created['id']}", headers=auth)

    error(response, 409, "DIALOGUE_IMMUTABLE")
    assert fetch(client, auth, created["id"])["totalMessages"] == 1
    assert listed(client, auth) == [created["id"]]


# -- POST /dialogue/{id}/{action} ----------------------------------------------------------

def test_end_a_dialogue(client, auth):
    created = create(client, auth)

    response = client.post(f"/dialogue/{created['id']}/end", headers=auth)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "ended"
    assert fetch(client, auth, created["id"])["status"] == "ended"


def test_an_unknown_action_is_400(client, auth):
    created = create(client, auth)

    error(client.post(f"/dialogue/{created['id']}/bogus", headers=auth), 400,
          "INVALID_ACTION")
    assert fetch(client, auth, created["id"])["status"] == "active"


def test_compact_queues_a_pending_task(client, auth):
    created = create(client, auth, messages=[msg("Q"), msg("A", role="assistant")])

    response = client.post(f"/dialogue/{created['id']}/compact", headers=auth)

    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["task_id"]
    assert body["dialogueId"] == created["id"]
    status = client.get(f"/api/task_status/{body['task_id']}", headers=auth)
    assert status.status_code == 200, status.get_json()
    assert status.get_json()["state"] == "PENDING"
    assert status.get_json()["task_id"] == body["task_id"]


def test_compact_of_a_dialogue_without_messages_is_400(client, auth):
    created = create(client, auth)

    error(client.post(f"/dialogue/{created['id']}/compact", headers=auth), 400,
          "INVALID_INPUT")


# -- errors --------------------------------------------------------------------------------

def test_an_error_carries_the_request_id_of_its_header(client, auth):
    response = client.get("/dialogue/no-such", headers=auth)

    body = error(response, 404, "DIALOGUE_NOT_FOUND")
    assert body["requestId"].strip()
    assert set(body) == {"code", "message", "requestId"}


def test_a_clients_request_id_is_echoed(client, auth):
    headers = {**auth, "X-Request-Id": "client-req-123"}

    failed = client.get("/dialogue/no-such", headers=headers)
    succeeded = client.post("/dialogue", json={}, headers=headers)

    assert error(failed, 404, "DIALOGUE_NOT_FOUND")["requestId"] == "client-req-123"
    assert failed.headers["X-Request-Id"] == "client-req-123"
    assert succeeded.status_code == 201
    assert succeeded.headers["X-Request-Id"] == "client-req-123"


def test_every_response_has_a_request_id(client, auth):
    first = client.post("/dialogue", json={}, headers=auth)
    second = client.get("/dialogue", headers=auth)

    assert first.headers["X-Request-Id"] and second.headers["X-Request-Id"]
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer pk_not-a-key"},
                                     {"X-API-Key": "pk_not-a-key"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_without_a_valid_key_is_401(client, headers):
    for response in (client.get("/dialogue", headers=headers),
                     client.post("/dialogue", json={}, headers=headers)):
        error(response, 401, "UNAUTHORIZED")


def test_nothing_is_created_without_auth(client, auth):
    client.post("/dialogue", json={"id": "sneaky"}, headers={})

    error(client.get("/dialogue/sneaky", headers=auth), 404, "DIALOGUE_NOT_FOUND")


# -- one core: the polling face's conversations are dialogues ------------------------------

def polling_conversation(client, auth, org) -> tuple[int, str]:
    """A conversation started through the polling face: its integer id and public id."""
    data_set = client.post("/api/data_sets", json={"name": "Plans"}, headers=auth)
    assert data_set.status_code == 201, data_set.get_json()
    response = client.post("/api/conversations",
                           json={"data_set_id": data_set.get_json()["id"]}, headers=auth)
    assert response.status_code == 201, response.get_json()
    conversation_id = response.get_json()["id"]
    row = db.session.get(Conversation, conversation_id)
    assert row.org_id == org["org_id"]
    # The polling face tells its clients the id the dialogue store knows.
    assert response.get_json()["public_id"] == row.public_id
    return conversation_id, row.public_id


def test_a_polling_conversation_is_a_dialogue(client, auth, org):
    _, public_id = polling_conversation(client, auth, org)

    got = fetch(client, auth, public_id)

    assert got["id"] == public_id
    assert got["status"] == "active"
    assert got["totalMessages"] == 0
    assert public_id in listed(client, auth)


def test_a_polling_question_is_a_dialogue_message(client, auth, org):
    conversation_id, public_id = polling_conversation(client, auth, org)

    ask(client, auth, conversation_id, "What does the plan cost?")

    items = messages_of(client, auth, public_id)
    assert [(m["role"], m["content"]) for m in items] == [("user",
                                                           "What does the plan cost?")]
    assert fetch(client, auth, public_id)["totalMessages"] == 1


def test_dialogue_messages_are_in_the_polling_history(client, auth, org):
    created = create(client, auth, messages=[msg("Q"), msg("A", role="assistant")])
    conversation_id = row_of(org["org_id"], created["id"]).id

    response = client.get(f"/api/conversations/{conversation_id}", headers=auth)

    assert response.status_code == 200, response.get_json()
    assert [(m["role"], m["text"]) for m in response.get_json()["history"]] == [
        ("user", "Q"), ("agent", "A")]


def test_a_polling_question_to_an_ended_dialogue_is_409(client, auth, org):
    conversation_id, public_id = polling_conversation(client, auth, org)
    client.post(f"/dialogue/{public_id}/end", headers=auth)

    response = client.post(f"/api/conversations/{conversation_id}",
                           json={"question_message": "Still there?"}, headers=auth)

    assert response.status_code == 409, response.get_json()
    assert messages_of(client, auth, public_id) == []
    assert db.session.scalar(select(Message.id).where(
        Message.conversation_id == conversation_id)) is None


def test_a_deleted_dialogue_is_gone_from_the_polling_face(client, auth, org):
    conversation_id, public_id = polling_conversation(client, auth, org)

    client.delete(f"/dialogue/{public_id}", headers=auth)

    assert client.get(f"/api/conversations/{conversation_id}",
                      headers=auth).status_code == 404


# -- tenancy -------------------------------------------------------------------------------

FOREIGN_CALLS = {
    "get": lambda c, h, d, m: c.get(f"/dialogue/{d}", headers=h),
    "put": lambda c, h, d, m: c.put(f"/dialogue/{d}", json={
        "tags": ["x"], "message": msg("x")}, headers=h),
    "put_state": lambda c, h, d, m: c.put(f"/dialogue/{d}/state",
                                          json={"state": {"x": 1}}, headers=h),
    "delete": lambda c, h, d, m: c.delete(f"/dialogue/{d}", headers=h),
    "messages": lambda c, h, d, m: c.get(f"/dialogue/{d}/messages", headers=h),
    "delete_message": lambda c, h, d, m: c.delete(f"/dialogue/{d}/message/{m}", headers=h),
    "end": lambda c, h, d, m: c.post(f"/dialogue/{d}/end", headers=h),
    "compact": lambda c, h, d, m: c.post(f"/dialogue/{d}/compact", headers=h),
}


@pytest.mark.parametrize("call", list(FOREIGN_CALLS))
def test_another_organizations_dialogue_is_not_found(client, auth, other_auth, call):
    created = create(client, auth, id="private", message=msg("secret", id="msg-1"))

    response = FOREIGN_CALLS[call](client, other_auth, "private", "msg-1")

    error(response, 404, "DIALOGUE_NOT_FOUND")
    assert "secret" not in response.get_data(as_text=True)
    after = fetch(client, auth, created["id"])
    assert after["tags"] == [] and after["state"] == {}
    assert after["status"] == "active"
    assert after["totalMessages"] == 1


def test_another_organizations_dialogues_are_not_listed(client, auth, other_auth):
    create(client, auth, id="private", namespace="shared-ns")
    theirs = create(client, other_auth)["id"]

    assert listed(client, other_auth) == [theirs]
    assert listed(client, other_auth, namespace="shared-ns") == []
    items, _ = walk(client, other_auth, "/dialogue", limit=1)
    assert [d["id"] for d in items] == [theirs]
