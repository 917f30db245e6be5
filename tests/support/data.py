"""The documents and questions the tests ask about, and the polling face's calls that
set a conversation up and ask in it."""

import uuid
from datetime import datetime

from app.services import organizations
from workers.tasks import reply

SLA_DOCUMENT = (
    "FiberUP Business Duplex is a symmetric fibre plan for companies.\n\n"
    "FiberUP Business Duplex includes an SLA guaranteeing 99.9% uptime, with an optional "
    "priority support package that answers within two hours.\n\n"
    "Installation takes five working days."
)
PRICE_DOCUMENT = "The FiberUP Home plan costs 30 euros a month. It has no SLA."
SLA_QUESTION = "Does FiberUP Business Duplex include an SLA?"
SLA_TITLE = "FiberUP Business Duplex"
SLA_SENTENCE = ("FiberUP Business Duplex includes an SLA guaranteeing 99.9% uptime, with an "
                "optional priority support package that answers within two hours.")


def ask(client, auth, conversation_id, question=SLA_QUESTION) -> str:
    """Post a question through the polling face; the task id it was accepted under."""
    response = client.post(f"/api/conversations/{conversation_id}",
                           json={"question_message": question}, headers=auth)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["task_id"]


def setup_conversation(client, auth) -> int:
    """A data set holding the two documents and a conversation over it, made through the
    polling face; the conversation's id."""
    data_set = client.post("/api/data_sets", json={"name": "Plans"}, headers=auth).get_json()
    for title, content in ((SLA_TITLE, SLA_DOCUMENT), ("Home price list", PRICE_DOCUMENT)):
        response = client.post(f"/api/data_sets/{data_set['id']}/documents",
                               json={"title": title, "content": content}, headers=auth)
        assert response.status_code == 201
    conversation = client.post("/api/conversations", json={"data_set_id": data_set["id"]},
                               headers=auth)
    assert conversation.status_code == 201
    return conversation.get_json()["id"]


def history(client, auth, conversation_id) -> list[dict]:
    """A conversation's whole history, through the polling face."""
    return client.get(f"/api/conversations/{conversation_id}",
                      headers=auth).get_json()["history"]


def new_org() -> dict:
    """{"org_id", "key_id", "api_key"} of a new organization (inside an app context).
    Each test works in organizations of its own, so a shared database needs no cleaning."""
    return organizations.create_key(f"org-{uuid.uuid4().hex}")


def ask_and_answer(client, auth, conversation_id, question=SLA_QUESTION) -> dict:
    """Ask through the polling face, run the reply task in-process (as a worker would,
    with the app's model), and return the agent message the history ends with."""
    reply.apply(args=[ask(client, auth, conversation_id, question)])
    return history(client, auth, conversation_id)[-1]


def is_utc_timestamp(value: str) -> bool:
    """An ISO 8601 timestamp with an explicit UTC offset."""
    return datetime.fromisoformat(value).utcoffset().total_seconds() == 0
