"""The conversation service face's calls (/api/conversation, /api/models) as one
organization, its error shape, its event streams read through the Flask test client,
and a reply written in-process as a worker would."""

import json

from app.services import language_models

OFFLINE_MODEL_ID = language_models.model_id("offline", language_models.OFFLINE_MODEL_NAME)


class Api:
    """The face's calls as one organization: org_id added to every query."""

    def __init__(self, client, auth: dict, org_id: str):
        self.client, self.auth, self.org_id = client, auth, org_id

    def get(self, path: str, **query):
        return self.client.get(path, query_string={"org_id": self.org_id, **query},
                               headers=self.auth)

    def post(self, path: str, body=None, **kwargs):
        return self.client.post(path, query_string={"org_id": self.org_id}, json=body,
                                headers=self.auth, **kwargs)

    def create(self, title: str = "Project Discussion", **body) -> dict:
        response = self.post("/api/conversation/create", {"title": title, **body})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def session(self, conversation_id: str, model_id: str = OFFLINE_MODEL_ID) -> dict:
        response = self.post("/api/conversation/create_session",
                             {"conversation_id": conversation_id, "model_id": model_id})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def messages(self, conversation_id: str, **query) -> list[dict]:
        response = self.get("/api/conversation/messages", conversation_id=conversation_id,
                            **query)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def listed(self, **query) -> list[str]:
        response = self.get("/api/conversation/list", **query)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()]

    def chat(self, chat_session_id: str, message: str = "How do vector databases work?"
             ) -> str:
        """Post a message on stream_chat; the id of its reply task, read from the
        stream's first frame (the stream itself would wait for a worker)."""
        response = self.post("/api/conversation/stream_chat",
                             {"chat_session_id": chat_session_id, "message": message},
                             buffered=False)
        try:
            assert response.status_code == 200, response.get_data()
            first = next(iter(response.response))
        finally:
            response.close()
        first = first.decode() if isinstance(first, bytes) else first
        assert first.startswith("retry: 1000\n: task "), first
        return first.removeprefix("retry: 1000\n: task ").strip()


def error(response, status: int) -> dict:
    """Assert the face's error shape (that of /api/tasks too); the body."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert body["code"] == status, body
    assert body["status"], body
    assert isinstance(body["message"], str) and body["message"], body
    return body


def sse_events(response) -> list[dict]:
    """Read an SSE body until its end or error event: [{"id", "event", "data"}]."""
    events = []
    try:
        assert response.status_code == 200, response.get_data()
        for chunk in response.response:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            for block in text.split("\n\n"):
                fields = dict(line.split(": ", 1) for line in block.splitlines()
                              if line and not line.startswith((":", "retry:")))
                if "event" in fields:
                    events.append({"id": fields["id"], "event": fields["event"],
                                   "data": json.loads(fields["data"])})
            if events and events[-1]["event"] in ("end", "error"):
                return events
        return events
    finally:
        response.close()


def task_events(client, auth, task_id: str, headers: dict | None = None, **query):
    """GET /api/tasks/{task_id}/events, unbuffered."""
    return client.get(f"/api/tasks/{task_id}/events", query_string=query,
                      headers={**auth, **(headers or {})}, buffered=False)


def event_order(event_id: str) -> tuple[int, int]:
    milliseconds, sequence = event_id.split("-")
    return int(milliseconds), int(sequence)
