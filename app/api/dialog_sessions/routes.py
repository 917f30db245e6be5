"""Routes of the dialog sessions face (/v1): sessions and their SSE turns, jobs, the
organization's briefing resources, and bearer tokens. Each view is one call into
app.services; a turn's answer is its task's events relayed as the spec's SSE events."""

from http import HTTPStatus

from flask import Response
from flask.views import MethodView

from app.api.dialog_sessions import schemas
from app.api.face import ErrorFormat, FaceBlueprint
from app.auth import current_caller, require_api_key
from app.services import briefing_resources, dialog_sessions, jobs, tokens
from app.services.events import FROM_START
from app.streaming import (DIALOG_EVENTS, event_stream_response, sse_response, task_relay,
                           typed, typed_frame)

CODES = {400: "bad_request", 422: "invalid_request", 429: "rate_limited",
         503: "unavailable"}


def error_body(status: int, message: str, errors: dict | None, code: str | None) -> dict:
    """{"error": {status, code, message, details}}: one shape for every error of /v1.
    `code`: the service's own, else one named after the status."""
    code = code or CODES.get(
        status, HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_"))
    detail = {"status": status, "code": code, "message": message}
    if errors:
        detail["details"] = errors
    return {"error": detail}


blp = FaceBlueprint("dialog_sessions", __name__, url_prefix="/v1",
                    errors=ErrorFormat(schema=schemas.DialogErrorSchema, body=error_body),
                    description="Dialog sessions: a briefing built with an agent over "
                                "Server-Sent Events, confirmed into a job; the jobs; the "
                                "organization's glossaries, style references, presets and "
                                "templates; bearer tokens.")

TURN_EVENTS = (
    "Server-Sent Events, each `event: <type>`, `id: <id>` and `data: {\"type\": <type>, "
    "\"data\": {...}}`: first `start` {task_id, session_id}; then `token` {text}, "
    "`briefing_update` {field, value}, `warning` {message}, `phase` {phase}, `actions` "
    "{actions}; last `done` {message: {role, content, timestamp, actions}} or `error` "
    "{message}. `restart` {attempt}: the turn is being tried again, drop the tokens so "
    "far. Resume with GET /api/tasks/{task_id}/events and Last-Event-ID.")


# -- sessions ---------------------------------------------------------------------------------

@blp.route("/dialog-sessions")
class DialogSessions(MethodView):
    @blp.idempotent
    @blp.errors(429)
    @blp.arguments(schemas.DialogSessionCreateSchema)
    @blp.response(200, schemas.DialogSessionCreatedSchema)
    def post(self, body):
        """Start a dialog session

        The first assistant message asks for the most important field still missing.
        429 when the organization's monthly session limit or its maximum of parallel
        active sessions is reached."""
        return dialog_sessions.create(current_caller(), body.pop("mode"),
                                      context=body.pop("context") or {}, **body)


@blp.route("/dialog-sessions/<session_id>")
class DialogSession(MethodView):
    @blp.errors(403, 404)
    @blp.response(200, schemas.DialogSessionSchema)
    def get(self, session_id):
        """A session with its conversation history"""
        return dialog_sessions.view(dialog_sessions.owned(current_caller(), session_id))


def turn_stream(task_id: str, session_id: str) -> Response:
    """A turn's events as the face sends them, opening with its task and session (also
    in X-Task-Id); a replay's too."""
    opening = typed(FROM_START, "start", {"task_id": task_id, "session_id": session_id})
    response = sse_response(task_relay(current_caller().org_id, task_id, render=typed_frame,
                                       opening=opening))
    response.headers["X-Task-Id"] = task_id
    return response


@blp.route("/dialog-sessions/<session_id>/messages")
class Turns(MethodView):
    @blp.idempotent(stream=turn_stream)
    @blp.doc(responses={200: event_stream_response(TURN_EVENTS, names=DIALOG_EVENTS)})
    @blp.errors(403, 404, 409, 429)
    @blp.arguments(schemas.TurnSchema)
    def post(self, body, session_id):
        """Send a message; the agent's answer streams as Server-Sent Events

        422 when the message looks like a prompt injection (nothing is stored); 429 when
        the session's message limit is reached (confirm or cancel it)."""
        task_id = dialog_sessions.post_message(current_caller(), session_id,
                                               body["message"])
        return turn_stream(task_id, session_id)


@blp.route("/dialog-sessions/<session_id>/briefing-preview")
class BriefingPreview(MethodView):
    @blp.errors(403, 404)
    @blp.response(200, schemas.PreviewSchema)
    def get(self, session_id):
        """The briefing as it stands, how complete it is, what is missing"""
        return dialog_sessions.preview(current_caller(), session_id)


@blp.route("/dialog-sessions/<session_id>/confirm")
class Confirm(MethodView):
    @blp.idempotent
    @blp.errors(403, 404, 409)
    @blp.arguments(schemas.ConfirmSchema)
    @blp.response(200, schemas.ConfirmedSchema)
    def post(self, body, session_id):
        """Confirm the briefing: it becomes a job

        Idempotent: confirming a confirmed session answers with its job. 422 lists the
        missing fields of an incomplete briefing."""
        return jobs.confirm(current_caller(), session_id, **body)


@blp.route("/dialog-sessions/<session_id>/cancel")
class Cancel(MethodView):
    @blp.errors(403, 404, 409)
    @blp.response(200, schemas.DialogSessionSchema)
    def post(self, session_id):
        """Cancel an active session; no job is made"""
        return dialog_sessions.view(dialog_sessions.cancel(current_caller(), session_id))


@blp.route("/dialog-sessions/<session_id>/metadata")
class Metadata(MethodView):
    @blp.errors(403, 404, 409)
    @blp.arguments(schemas.MetadataSchema)
    @blp.response(200, schemas.DialogSessionSchema)
    def patch(self, body, session_id):
        """Set the attached file's name, type and preview on an active session"""
        return dialog_sessions.view(
            dialog_sessions.update_metadata(current_caller(), session_id, **body))


# -- jobs ---------------------------------------------------------------------------------------

def _page(items: list, limit: int, cursor_of) -> dict:
    """A page of `limit` from `limit + 1` items read: the extra one says there is more."""
    shown = items[:limit]
    more = len(items) > limit
    return {"data": shown, "has_more": more,
            "next_cursor": cursor_of(shown[-1]) if more else None}


@blp.route("/jobs")
class Jobs(MethodView):
    @blp.errors(404)
    @blp.arguments(schemas.PageQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.JobPageSchema)
    def get(self, limit, after):
        """Your jobs, newest first (cursor paging: pass next_cursor as `after`)"""
        return _page(jobs.page(current_caller(), limit + 1, after), limit,
                     lambda job: job["job_id"])


@blp.route("/jobs/<job_id>")
class Job(MethodView):
    @blp.errors(404)
    @blp.response(200, schemas.JobSchema)
    def get(self, job_id):
        """A job: its status, result, error and cost"""
        return jobs.get(current_caller(), job_id)


# -- the organization's resources -----------------------------------------------------------

RESOURCES = (
    (briefing_resources.GLOSSARY, "glossaries", schemas.GlossaryInSchema,
     schemas.GlossarySchema),
    (briefing_resources.STYLE_REF, "style-references", schemas.StyleReferenceInSchema,
     schemas.StyleReferenceSchema),
    (briefing_resources.PRESET, "presets", schemas.BriefingInSchema,
     schemas.BriefingResourceSchema),
    (briefing_resources.TEMPLATE, "templates", schemas.BriefingInSchema,
     schemas.BriefingResourceSchema),
)


def _resource_routes(kind: str, path: str, in_schema, out_schema) -> None:
    """POST and GET (a page) on /v1/<path>, GET and DELETE on /v1/<path>/{id}."""
    name = briefing_resources.NAMES[kind].lower()
    page_schema = schemas.page_schema(out_schema, f"{kind.title().replace('_', '')}Page")

    class Collection(MethodView):
        @blp.idempotent
        @blp.doc(summary=f"Add a {name}")
        @blp.arguments(in_schema)
        @blp.response(201, out_schema)
        def post(self, body):
            return briefing_resources.create(current_caller().org_id, kind,
                                             body.pop("name"), body)

        @blp.doc(summary=f"Your organization's {name}s, oldest first")
        @blp.errors(404)
        @blp.arguments(schemas.PageQuerySchema, location="query", as_kwargs=True)
        @blp.response(200, page_schema)
        def get(self, limit, after):
            return _page(briefing_resources.page(current_caller().org_id, kind, limit + 1,
                                                 after), limit, lambda r: r.public_id)

    class Item(MethodView):
        @blp.doc(summary=f"A {name}")
        @blp.errors(404)
        @blp.response(200, out_schema)
        def get(self, resource_id):
            return briefing_resources.get(current_caller().org_id, kind, resource_id)

        @blp.doc(summary=f"Delete a {name}")
        @blp.errors(404)
        @blp.response(204)
        def delete(self, resource_id):
            briefing_resources.delete(current_caller().org_id, kind, resource_id)

    blp.route(f"/{path}", endpoint=f"{kind}_collection")(Collection)
    blp.route(f"/{path}/<resource_id>", endpoint=f"{kind}_item")(Item)


for _resource in RESOURCES:
    _resource_routes(*_resource)


# -- tokens ---------------------------------------------------------------------------------------

@blp.route("/auth/token")
class Token(MethodView):
    @blp.errors(403)
    @blp.response(200, schemas.TokenSchema)
    def post(self):
        """A short-lived bearer token (JWT) for the API key presented

        Send it as `Authorization: Bearer <token>` to any endpoint; it stands for the
        key (sessions it creates belong to that key). 403 when the request presents a
        token instead of the key: a token is not exchanged for another."""
        return tokens.issue(require_api_key())
