"""Dialog sessions end to end: a real gunicorn web process, a real Celery worker, and
the fake Claude streaming tool use (or the offline model). A client reads each turn's
Server-Sent Events with httpx-sse, an SSE parser independent of Parley's own: a
three-turn translation dialogue completes its briefing, is confirmed, and its job runs
and uses the glossary."""

import time

import httpx
import httpx_sse
import pytest

from tests.support.processes import (free_port, start_gunicorn, stop_process,
                                     wait_until_serving)

pytestmark = pytest.mark.integration

TEXT = "Der Vertrag tritt morgen in Kraft."
TRANSLATION = "The contract enters into force tomorrow."
GLOSSARY = {"name": "Legal", "source_lang": "de", "target_lang": "en",
            "terms": [{"source": "Vertrag", "target": "contract"},
                      {"source": "Kündigung", "target": "termination"}]}
DEADLINE_SECONDS = 30


class Web:
    """A gunicorn process of the app on a stack's database and Redis, and a client."""

    def __init__(self, stack, folder):
        config = stack.app.config
        self.stack, self.port = stack, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "gunicorn.log"
        self.process = start_gunicorn(
            {"DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
             "REDIS_URL": config["REDIS_URL"], "PARLEY_SSE_HEARTBEAT": "1"},
            self.port, self.log_path)
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def logs(self) -> str:
        return (f"\n--- gunicorn ---\n{self.log_path.read_text(errors='replace')[-3000:]}"
                f"\n--- worker ---\n{self.stack.log_path.read_text(errors='replace')[-3000:]}")

    def call(self, method: str, path: str, auth: dict, expect: int = 200, **kwargs) -> dict:
        response = self.client.request(method, path, headers=auth, **kwargs)
        assert response.status_code == expect, f"{response.status_code} {response.text}" \
                                               f"{self.logs()}"
        return response.json()

    def turn(self, auth: dict, session_id: str, message: str) -> list[httpx_sse.ServerSentEvent]:
        """Send a message; every event of its answer, read to `done` or `error`."""
        events = []
        with httpx_sse.connect_sse(self.client, "POST",
                                   f"/v1/dialog-sessions/{session_id}/messages",
                                   headers=auth, json={"message": message},
                                   timeout=DEADLINE_SECONDS) as source:
            assert source.response.status_code == 200, source.response.read()
            for event in dispatched(source.iter_sse()):
                events.append(event)
                if event.event in ("done", "error"):
                    break
        assert events and events[-1].event == "done", f"{events}{self.logs()}"
        return events

    def wait_for_job(self, auth: dict, job_id: str) -> dict:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            job = self.call("GET", f"/v1/jobs/{job_id}", auth)
            if job["status"] in ("completed", "failed"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} still {job['status']}{self.logs()}")

    def close(self) -> None:
        self.client.close()
        stop_process(self.process)


def web_on(stack, tmp_path_factory):
    web = Web(stack, tmp_path_factory.mktemp("gunicorn"))
    try:
        wait_until_serving(web.process, web.url, web.logs)
        yield web
    finally:
        web.close()


@pytest.fixture(scope="module")
def claude_web(claude_stack, tmp_path_factory):
    yield from web_on(claude_stack, tmp_path_factory)


@pytest.fixture(scope="module")
def offline_web(offline_stack, tmp_path_factory):
    yield from web_on(offline_stack, tmp_path_factory)


def dispatched(events):
    """The events a browser's EventSource dispatches: not the blocks with no data (the
    retry line, comments), which httpx-sse passes on too."""
    return (event for event in events if event.data)


def typed(events) -> list[tuple[str, dict]]:
    """(type, data) of each event, checking each is the spec's {"type", "data"} and its
    `event:` names the same type."""
    found = []
    for event in dispatched(events):
        body = event.json()
        assert set(body) == {"type", "data"} and body["type"] == event.event, body
        assert event.id, event
        found.append((body["type"], body["data"]))
    return found


def updates(found) -> dict:
    return {data["field"]: data["value"] for name, data in found if name == "briefing_update"}


def start_dialogue(web: Web, auth: dict) -> tuple[str, str]:
    glossary = web.call("POST", "/v1/glossaries", auth, 201, json=GLOSSARY)["id"]
    created = web.call("POST", "/v1/dialog-sessions", auth, json={
        "mode": "translation", "text": TEXT})
    assert created["status"] == "active" and created["phase"] == 1
    assert created["message"]["role"] == "assistant" and created["message"]["actions"]
    return created["session_id"], glossary


def confirm_and_run(web: Web, auth: dict, session_id: str) -> dict:
    preview = web.call("GET", f"/v1/dialog-sessions/{session_id}/briefing-preview", auth)
    assert preview["missing_fields"] == [] and preview["completeness"] == 1.0, preview
    confirmed = web.call("POST", f"/v1/dialog-sessions/{session_id}/confirm", auth, json={})
    assert confirmed["status"] == "confirmed" and confirmed["job_status"] == "queued"
    job = web.wait_for_job(auth, confirmed["job_id"])
    assert job["status"] == "completed", job
    assert job["session_id"] == session_id
    return job


def test_a_three_turn_dialogue_with_claude_ends_in_a_job_that_used_the_glossary(
        claude_web, claude_stack, fake_model):
    auth = claude_stack.new_org()
    session_id, glossary = start_dialogue(claude_web, auth)
    fake_model.configure(tool_text="Noted. What else should I know?", reply=TRANSLATION,
                         tool_inputs=[{"source_lang": "de", "target_lang": "en"},
                                      {"domain": "legal", "tone": "formal"},
                                      {"glossary_id": glossary}])

    first = typed(claude_web.turn(auth, session_id, "German to English, please."))
    assert first[0][0] == "start" and first[0][1]["task_id"]
    assert "".join(d["text"] for n, d in first if n == "token") == \
        "Noted. What else should I know?"
    assert updates(first) == {"source_lang": "de", "target_lang": "en"}
    assert first[-1][1]["message"]["content"] == "Noted. What else should I know?"
    second = typed(claude_web.turn(auth, session_id, "A legal contract; formal tone."))
    assert updates(second) == {"domain": "legal", "tone": "formal"}
    assert ("phase", {"phase": 3}) in second
    assert ("warning", {"message": "Legal domain: consider adding a glossary."}) in second
    third = typed(claude_web.turn(auth, session_id, "Use our Legal glossary."))
    assert updates(third) == {"glossary_id": glossary}

    job = confirm_and_run(claude_web, auth, session_id)
    assert job["result"]["text"] == TRANSLATION
    assert job["result"]["glossary_terms_applied"] == [{"source": "Vertrag",
                                                        "target": "contract"}]
    assert job["model"] == "claude-fake-1" and job["cost_eur"] > 0
    # The model was asked with the tool, streamed, and the job with the glossary's terms.
    calls = fake_model.recorded_requests()
    assert [bool(call.get("tools")) for call in calls] == [True, True, True, False]
    assert all(call["stream"] for call in calls)
    assert "Vertrag → contract" in calls[-1]["system"]
    session = claude_web.call("GET", f"/v1/dialog-sessions/{session_id}", auth)
    assert session["status"] == "confirmed" and session["message_count"] == 7
    assert session["cost_eur"] > job["cost_eur"]


def test_a_client_that_drops_resumes_at_the_tasks_events(claude_web, claude_stack,
                                                         fake_model):
    auth = claude_stack.new_org()
    session_id, _ = start_dialogue(claude_web, auth)
    fake_model.configure(tool_text=" ".join(f"word{n}" for n in range(40)),
                         chunk_delay=0.05, tool_inputs=[{"target_lang": "en"}])
    with httpx_sse.connect_sse(claude_web.client, "POST",
                               f"/v1/dialog-sessions/{session_id}/messages", headers=auth,
                               json={"message": "Into English."}) as source:
        events = dispatched(source.iter_sse())
        start, first_token = next(events), next(events)
    # Dropped after the first token; the task id came in the first event.
    task_id = start.json()["data"]["task_id"]
    assert first_token.event == "token"
    with httpx_sse.connect_sse(claude_web.client, "GET", f"/api/tasks/{task_id}/events",
                               headers={**auth, "Last-Event-ID": first_token.id}) as source:
        rest = []
        for event in dispatched(source.iter_sse()):
            rest.append(event)
            if event.event in ("done", "error"):
                break
    found = typed([first_token, *rest])
    text = "".join(data["text"] for name, data in found if name == "token")
    assert text == " ".join(f"word{n}" for n in range(40))
    assert found[-1][1]["message"]["content"] == text


def test_a_three_turn_dialogue_offline_ends_in_an_honest_job(offline_web, offline_stack):
    auth = offline_stack.new_org()
    session_id, glossary = start_dialogue(offline_web, auth)

    first = typed(offline_web.turn(auth, session_id, "From German into English, please."))
    assert updates(first) == {"source_lang": "de", "target_lang": "en"}
    second = typed(offline_web.turn(auth, session_id, "It's a legal contract, formal tone."))
    assert updates(second) == {"domain": "legal", "tone": "formal"}
    third = typed(offline_web.turn(auth, session_id, "Use the Legal glossary."))
    assert updates(third) == {"glossary_id": glossary}

    job = confirm_and_run(offline_web, auth, session_id)
    result = job["result"]
    assert result["translated"] is False and "NOT translated" in result["note"]
    assert result["text"] == "Der contract tritt morgen in Kraft."
    assert result["glossary_terms_applied"] == [{"source": "Vertrag", "target": "contract"}]
    assert job["cost_eur"] == 0
