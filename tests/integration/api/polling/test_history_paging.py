"""The polling face's history paging, from the conversation's end: ?limit=N, then
?before=<older>; on BOTH databases (tests/integration/api/conftest.py)."""

import pytest

from tests.support.data import ask
from workers.tasks import reply

pytestmark = pytest.mark.integration


@pytest.fixture
def ten_messages(client, auth, conversation_id):
    for n in range(5):
        reply.apply(args=[ask(client, auth, conversation_id, f"Question {n} about the SLA?")])
    return conversation_id


def page(client, auth, conversation_id, **query):
    response = client.get(f"/api/conversations/{conversation_id}", query_string=query,
                          headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_without_limit_the_whole_history_and_no_older(client, auth, ten_messages):
    body = page(client, auth, ten_messages)

    assert len(body["history"]) == 10 and body["older"] is None


def test_limit_gives_the_latest_messages_in_order(client, auth, ten_messages):
    whole = page(client, auth, ten_messages)["history"]

    body = page(client, auth, ten_messages, limit=3)

    assert body["history"] == whole[-3:]
    assert body["older"] == whole[-3]["id"]


def test_before_pages_back_without_gaps_or_repeats(client, auth, ten_messages):
    whole = page(client, auth, ten_messages)["history"]
    seen, query = [], {"limit": 4}
    while True:
        body = page(client, auth, ten_messages, **query)
        seen = body["history"] + seen
        if body["older"] is None:
            break
        query = {"limit": 4, "before": body["older"]}

    assert seen == whole


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 1001}, {"limit": "x"},
                                   {"before": "x"}])
def test_bad_paging_arguments_are_422(client, auth, ten_messages, query):
    response = client.get(f"/api/conversations/{ten_messages}", query_string=query,
                          headers=auth)

    assert response.status_code == 422
    assert next(iter(query)) in response.get_json()["message"]


def test_before_a_message_of_another_conversation_is_404(client, auth, ten_messages,
                                                        data_set_id):
    other = client.post("/api/conversations", json={"data_set_id": data_set_id},
                        headers=auth).get_json()["id"]
    foreign_message = page(client, auth, ten_messages)["history"][0]["id"]

    response = client.get(f"/api/conversations/{other}",
                          query_string={"limit": 5, "before": foreign_message}, headers=auth)

    assert response.status_code == 404
