"""The Python client (clients/python) against a live server: gunicorn serving the app
and a real Celery worker answering with the offline model, on PostgreSQL and Redis.
Create, ask, wait (a long poll), the history, stream (whole, resumed by hand, and
resumed by the client itself after a connection dropped mid-stream), the dialogue
store, a dialog session's turn, retries after 429 with Retry-After, typed errors."""

import secrets
import time

import httpx
import pytest

from parley_client import (Conflict, InvalidRequest, NotFound, Parley, RetryPolicy,
                           Unauthorized, text_of)
from tests.support.cutting_proxy import CuttingProxy
from tests.support.data import PRICE_DOCUMENT, SLA_DOCUMENT, SLA_QUESTION, SLA_SENTENCE, SLA_TITLE
from tests.support.processes import free_port, start_gunicorn, stop_process, wait_until_serving

pytestmark = pytest.mark.integration

# The limited server's polling face: a few requests, then 429 with Retry-After.
TINY_LIMIT = "2 per second"


class Recording(httpx.HTTPTransport):
    """httpx's own transport, writing down each request and the status it got."""

    def __init__(self):
        super().__init__()
        self.exchanges: list[tuple[httpx.Request, int]] = []

    def handle_request(self, request):
        response = super().handle_request(request)
        self.exchanges.append((request, response.status_code))
        return response


@pytest.fixture(scope="module")
def servers(offline_stack, tmp_path_factory):
    """Two gunicorn processes on the stack's database and Redis: "web" with the default
    limits, "limited" with TINY_LIMIT on the polling face; {name: url}."""
    config = offline_stack.app.config
    env = {"DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": config["REDIS_URL"], "PARLEY_LLM": "offline"}
    folder = tmp_path_factory.mktemp("client-gunicorn")
    settings = {"web": {}, "limited": {"PARLEY_RATE_LIMIT_POLLING": TINY_LIMIT}}
    started = {}
    try:
        for name, extra in settings.items():
            port, log_path = free_port(), folder / f"{name}.log"
            started[name] = (start_gunicorn({**env, **extra}, port, log_path),
                             f"http://127.0.0.1:{port}", log_path)
        for process, url, log_path in started.values():
            wait_until_serving(process, url,
                               lambda path=log_path: "\n" + path.read_text()[-3000:])
        yield {name: url for name, (_, url, _) in started.items()}
    finally:
        for process, _, _ in started.values():
            stop_process(process)


def key_of(stack) -> str:
    [key] = stack.new_org().values()
    return key


@pytest.fixture(scope="module")
def api_key(offline_stack):
    return key_of(offline_stack)


@pytest.fixture
def parley(servers, api_key):
    with Parley(servers["web"], api_key=api_key, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def answered(servers, api_key):
    """A data set, a conversation and a question asked and waited for through the
    client: (conversation id, task, its final status, the long polls it took)."""
    recording = Recording()
    with Parley(servers["web"], api_key=api_key, timeout=20, transport=recording) as client:
        data_set = client.create_data_set("Plans", "Our fibre plans")
        for title, content in ((SLA_TITLE, SLA_DOCUMENT), ("Home price list", PRICE_DOCUMENT)):
            assert client.add_document(data_set.id, title, content).passage_count >= 1
        conversation = client.create_conversation(data_set.id)
        task = client.ask(conversation.id, SLA_QUESTION)
        final = client.wait(task, timeout=60)
    polls = [request for request, _ in recording.exchanges
             if request.url.path == f"/api/task_status/{task.id}"]
    return conversation.id, task, final, polls


def test_ask_then_wait_long_polls_until_the_reply_is_stored(parley, answered):
    conversation_id, task, final, polls = answered

    assert final.succeeded and final.task_id == task.id, final
    history = parley.history(conversation_id)
    question, reply = history.messages[-2:]
    assert (question.role, question.text) == ("user", SLA_QUESTION)
    assert reply.role == "agent" and reply.id == final.reply_message_id
    assert SLA_SENTENCE in reply.text
    # A long poll answers on each change of the task (claimed, finished): at most one
    # request per change, never a request per polling interval.
    assert 1 <= len(polls) <= 3
    assert all(int(request.url.params["wait"]) > 0 for request in polls)


def test_the_stream_spells_the_stored_reply(parley, answered):
    conversation_id, task, _, _ = answered

    events = list(parley.stream(task))

    assert [events[0].type, events[-1].type] == ["start", "end"]
    assert text_of(events) == parley.history(conversation_id).messages[-1].text
    ids = [event.id for event in events]
    assert len(set(ids)) == len(ids)


def test_a_stream_read_in_part_resumes_from_its_last_id(parley, answered):
    conversation_id, task, _, _ = answered
    whole = [event.id for event in parley.stream(task)]

    with parley.stream(task) as stream:
        first_two = [next(stream), next(stream)]
    rest = list(parley.stream(task, last_event_id=first_two[-1].id))

    joined = first_two + rest
    assert [event.id for event in joined] == whole  # no duplicates, no gaps
    assert text_of(joined) == parley.history(conversation_id).messages[-1].text


def test_a_stream_cut_mid_way_is_resumed_by_the_client(servers, api_key, parley, answered):
    conversation_id, task, _, _ = answered
    whole = list(parley.stream(task))
    first_content = next(event for event in whole if event.type == "content")
    proxy = CuttingProxy(int(servers["web"].rsplit(":", 1)[1]), b"event: content")
    try:
        with Parley(proxy.url, api_key=api_key, timeout=20) as through_proxy:
            events = list(through_proxy.stream(task))
    finally:
        proxy.close()

    assert [event.id for event in events] == [event.id for event in whole]
    assert text_of(events) == parley.history(conversation_id).messages[-1].text
    assert len(proxy.requests) == 2, proxy.requests
    assert b"last-event-id: " + first_content.id.encode() in proxy.requests[1].lower()


def test_a_question_sent_twice_with_one_key_is_one_task(parley, answered):
    conversation_id, _, _, _ = answered
    key = f"client-test-{secrets.token_hex(8)}"

    first = parley.ask(conversation_id, "How long does installation take?",
                       idempotency_key=key)
    again = parley.ask(conversation_id, "How long does installation take?",
                       idempotency_key=key)

    assert first.id == again.id
    assert parley.wait(first, timeout=60).succeeded
    asked = [m for m in parley.history(conversation_id).messages
             if m.text == "How long does installation take?"]
    assert len(asked) == 1


def test_the_dialogue_store_create_append_read_list(parley):
    namespace = f"user-{secrets.token_hex(4)}"

    created = parley.dialogues.create(
        namespace=namespace, tags=["support"], metadata={"channel": "web"},
        messages=[{"role": "user", "content": "My fibre is down."}])
    appended = parley.dialogues.append(created.id, {"role": "assistant",
                                                    "content": "Is the LOS light red?"},
                                       state={"step": "triage"})

    assert appended.total_messages == 2 and appended.state == {"step": "triage"}
    read = parley.dialogues.get(created.id)
    assert [m.content for m in read.messages] == ["My fibre is down.", "Is the LOS light red?"]
    assert read.metadata == {"channel": "web"}
    page = parley.dialogues.messages(created.id, limit=1)
    assert [m.role for m in page.items] == ["user"] and page.next
    second = parley.dialogues.messages(created.id, limit=1, next=page.next)
    assert [m.role for m in second.items] == ["assistant"] and second.next is None
    assert [d.id for d in parley.dialogues.list(namespace=namespace).items] == [created.id]
    assert parley.dialogues.end(created.id).status == "ended"
    with pytest.raises(Conflict) as raised:
        parley.dialogues.append(created.id, {"role": "user", "content": "Hello?"})
    assert raised.value.code == "DIALOGUE_ENDED"


def test_a_dialog_sessions_turn_streams_and_resumes_after_a_cut(servers, api_key, parley):
    started = parley.sessions.create("translation", text="Der Vertrag tritt morgen in Kraft.")
    assert started.status == "active" and started.message.actions
    proxy = CuttingProxy(int(servers["web"].rsplit(":", 1)[1]), b"event: briefing_update")
    try:
        with Parley(proxy.url, api_key=api_key, timeout=20) as through_proxy:
            turn = through_proxy.sessions.send(started.session_id,
                                               "From German into English, please.")
            events = list(turn)
    finally:
        proxy.close()

    assert events[0].type == "start" and events[-1].type == "done", events
    updates = {e.data["field"]: e.data["value"] for e in events if e.type == "briefing_update"}
    assert updates == {"source_lang": "de", "target_lang": "en"}
    assert text_of(events) == events[-1].data["message"]["content"]
    assert len(proxy.requests) == 2
    assert proxy.requests[1].startswith(f"GET /api/tasks/{turn.task_id}/events".encode())
    preview = parley.sessions.preview(started.session_id)
    assert (preview.briefing["source_lang"], preview.briefing["target_lang"]) == ("de", "en")


def test_rate_limited_requests_wait_out_retry_after(servers, offline_stack):
    recording, pauses = Recording(), []

    def sleep(seconds):
        pauses.append(seconds)
        time.sleep(seconds)

    with Parley(servers["limited"], api_key=key_of(offline_stack), timeout=20,
                transport=recording, sleep=sleep, retry=RetryPolicy(max_attempts=5)) as client:
        created = [client.create_data_set(f"Set {n}") for n in range(3)]
        listed = [client.data_sets() for _ in range(3)]

    statuses = [status for _, status in recording.exchanges]
    assert 429 in statuses and len(pauses) == statuses.count(429)
    # Each keyed POST refused was sent again under its own key: three data sets, no more.
    assert sorted(d.id for d in listed[-1]) == sorted(d.id for d in created)
    answers_by_key: dict[str, list[int]] = {}
    for request, status in recording.exchanges:
        if request.method == "POST":
            answers_by_key.setdefault(request.headers["Idempotency-Key"], []).append(status)
    assert len(answers_by_key) == 3
    for answers in answers_by_key.values():
        assert answers[-1] == 201 and set(answers[:-1]) <= {429}, answers_by_key


def test_errors_are_typed_from_each_faces_body(servers, parley):
    with pytest.raises(NotFound) as task:
        parley.task("00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotFound) as dialogue:
        parley.dialogues.get("no-such-dialogue")
    with pytest.raises(NotFound) as session:
        parley.sessions.get("dialog_nosuchsession")
    with pytest.raises(InvalidRequest) as blank:
        parley.ask(1, "")

    assert (task.value.status, task.value.code) == (404, "not_found")
    assert dialogue.value.code == "DIALOGUE_NOT_FOUND"
    assert session.value.code == "session_not_found"
    assert "question_message" in str(blank.value.details)
    for raised in (task, dialogue, session, blank):
        assert raised.value.request_id and raised.value.request_id.startswith("req_")


def test_a_wrong_key_is_unauthorized_on_every_face(servers):
    with Parley(servers["web"], api_key="pk_wrong") as wrong:
        calls = {"polling": lambda: wrong.data_sets(),
                 "dialogues": lambda: wrong.dialogues.list(),
                 "dialog sessions": lambda: wrong.sessions.job("job_x")}
        for face, call in calls.items():
            with pytest.raises(Unauthorized) as raised:
                call()
            assert raised.value.status == 401, face
