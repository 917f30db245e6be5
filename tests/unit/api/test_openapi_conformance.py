"""The served OpenAPI document is true: schemathesis generates requests for every
operation from /openapi.json, sends them to the app in-process, authenticated, and
checks each answer against the document (status code, content type, body schema) and
that none is a server error. Path and query ids are those of things that exist, so the
requests reach past the 404s to the views' real answers."""

from itertools import product

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.openapi.checks import JsonSchemaError
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from tests.support.data import ask
from tests.support.work import fail as fail_task

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance]
# Examples per operation, mode and id: enough to reach each documented answer, few
# enough that the whole document takes well under a minute on two cores.
EXAMPLES = 12


def load_schema(app, document: dict | None = None):
    if document is None:
        return schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    return schema


@pytest.fixture
def known(app, client, auth, org_key, conversation_id, data_set_id) -> dict:
    """For each path or query parameter, the ids to try: things of the caller's that
    exist. Two finished tasks: one whose events are still streamed (200, an SSE
    error event), one whose events have expired (410)."""
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.05  # a relay's idle wait, per example
    dialogue_id = client.get(f"/api/conversations/{conversation_id}",
                             headers=auth).get_json()["public_id"]
    expired = ask(client, auth, conversation_id)
    fail_task(expired, "The model refused.")
    app.extensions["task_events"].client.flushall()
    streamed = ask(client, auth, conversation_id)
    fail_task(streamed, "The model refused.")
    message_id = client.get(f"/dialogue/{dialogue_id}/messages",
                            headers=auth).get_json()["items"][0]["id"]
    dialog = _confirmed_dialog_session(client, auth)
    batch = client.post("/api/batches", headers=auth, json={"requests": [
        {"custom_id": "a", "data_set_id": data_set_id, "question_message": "Hi?"}]}
    ).get_json()["id"]
    return {"path": {"data_set_id": [data_set_id], "conversation_id": [conversation_id],
                     "task_id": [expired, streamed], "dialogue_id": [dialogue_id],
                     "message_id": [message_id], "batch_id": [batch], **dialog,
                     **_webhook_delivered(client, auth)},
            # The conversation service's, with a conversation made by another face.
            "query": {"org_id": [org_key["org_id"]], "conversation_id": [dialogue_id]}}


def _confirmed_dialog_session(client, auth) -> dict:
    """A dialog session confirmed into a job, and a glossary: every session endpoint
    answers (a message to a confirmed session is a 409, not a stream waiting for a
    worker that never comes)."""
    glossary = client.post("/v1/glossaries", headers=auth, json={
        "name": "Legal", "source_lang": "de", "target_lang": "en",
        "terms": [{"source": "Vertrag", "target": "contract"}]}).get_json()["id"]
    preset = client.post("/v1/presets", headers=auth, json={
        "name": "Legal formal", "briefing": {"domain": "legal", "tone": "formal",
                                             "glossary_id": glossary}}).get_json()["id"]
    session = client.post("/v1/dialog-sessions", headers=auth, json={
        "mode": "translation", "text": "Der Vertrag gilt.",
        "context": {"source_lang": "de", "target_lang": "en", "preset_id": preset}}
    ).get_json()["session_id"]
    job = client.post(f"/v1/dialog-sessions/{session}/confirm", headers=auth,
                      json={}).get_json()["job_id"]
    return {"session_id": [session], "job_id": [job], "resource_id": [glossary]}


def _webhook_delivered(client, auth) -> dict:
    """A webhook (at a public address: nothing is sent, the broker is in memory) with a
    delivery of its test event."""
    webhook = client.post("/api/webhooks", headers=auth, json={
        "url": "https://93.184.215.14/hooks", "events": ["task.succeeded"]}).get_json()["id"]
    delivery = client.post(f"/api/webhooks/{webhook}/test", headers=auth).get_json()["id"]
    return {"webhook_id": [webhook], "delivery_id": [delivery]}


def test_every_answer_is_documented(app, known, auth, subtests):
    # One subtest per operation, mode and ids: a failure names them, and the others
    # still run. (schemathesis' own pytest loader does not work with pytest 9.2.)
    operations = [result.ok() for result in load_schema(app).get_all_operations()]
    assert len(operations) >= 28
    for operation in sorted(operations, key=_deletes_last):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path, query in _fixed(operation, known):
                with subtests.test(operation=operation.label, mode=mode.value,
                                   ids={**path, **query}):
                    _conforms(operation.as_strategy(mode, path_parameters=path,
                                                    query=query), auth)


def _deletes_last(operation) -> tuple[bool, int]:
    """Deleting the dialogue would leave the operations after it only 404s."""
    return operation.method.upper() == "DELETE", -operation.path.count("/")


def _fixed(operation, known: dict):
    """Each combination of known ids for the parameters the operation declares, as
    (path parameters, query parameters)."""
    names = [("path", p.name) for p in operation.path_parameters if p.name in known["path"]]
    names += [("query", p.name) for p in operation.query if p.name in known["query"]]
    for values in product(*(known[where][name] for where, name in names)):
        chosen = {"path": {}, "query": {}}
        for (where, name), value in zip(names, values):
            chosen[where][name] = value
        yield chosen["path"], chosen["query"]


def _conforms(strategy, auth: dict) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        case.call_and_validate(headers=auth, checks=CHECKS)

    answers_as_documented()


def test_a_wrong_schema_is_caught(app, client, auth):
    """The check can fail: with the polling face's error code documented as a string,
    the 404 of an unknown data set no longer conforms."""
    document = client.get("/openapi.json").get_json()
    document["components"]["schemas"]["Error"]["properties"]["code"] = {"type": "string"}
    operation = load_schema(app, document)["/api/data_sets/{data_set_id}"]["GET"]
    case = operation.Case(path_parameters={"data_set_id": 999})

    with pytest.raises(BaseExceptionGroup) as caught:
        case.call_and_validate(headers=auth, checks=CHECKS)

    assert caught.group_contains(JsonSchemaError, match="404 is not of type")
