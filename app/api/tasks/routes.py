"""Any task, whatever face or kind made it: GET /api/tasks/{task_id}/events, its events
(replies of every face, compaction, dialog turns, jobs) as Server-Sent Events from the
start or after Last-Event-ID; POST /api/tasks/{task_id}/cancel."""

from types import SimpleNamespace

from flask import jsonify, request
from flask.views import MethodView

from app.api.face import FaceBlueprint
from app.api.tasks import schemas
from app.auth import current_org
from app.errors import BadRequest, error_body
from app.services import events, task_kinds, tasks
from app.streaming import (DIALOG_EVENTS, event_stream_response, renderer_for,
                           sse_response, task_relay)

blp = FaceBlueprint("task_events", __name__, url_prefix="/api/tasks", rate_limit="polling",
                    description="Any task's progress as Server-Sent Events; cancel.")
LAST_EVENT_ID = {"in": "header", "name": "Last-Event-ID", "required": False,
                 "schema": {"type": "string"},
                 "description": "Resume after this event (the `id` of the last one you got); "
                                "also accepted as the query parameter last_event_id."}


@blp.route("/<task_id>/events")
class TaskEvents(MethodView):
    @blp.doc(parameters=[LAST_EVENT_ID], responses={
        200: event_stream_response(
            "Server-Sent Events: start, content, end or error; a dialog session's turn "
            "sends its face's events (token, briefing_update, phase, actions, warning, "
            "done, error), each data line {\"type\", \"data\"}.",
            names=sorted({"start", "content", "end", "error", *DIALOG_EVENTS})),
        410: {"description": "The task has finished and its events have expired; the "
                             "body points to its stored result.",
              "content": {"application/json": {"schema": schemas.EventsExpiredSchema}}}})
    @blp.errors(400, 404)
    def get(self, task_id):
        """A task's events, live; resume with Last-Event-ID"""
        org_id = current_org()
        after = _resume_point()
        task = tasks.get_task(org_id, task_id)
        final = task_kinds.outcome(task)
        if final is not None and not events.task_events().exists(task_id):
            return _expired(task, final)
        return sse_response(task_relay(org_id, task_id, after, renderer_for(task.kind)))


@blp.route("/<task_id>/cancel")
class TaskCancel(MethodView):
    @blp.errors(404, 409)
    @blp.response(200, schemas.CancelSchema)
    def post(self, task_id):
        """Cancel a task

        Queued, or waiting behind an earlier question: it ends at once (FAILURE, stage
        `canceled`) and the conversation's later questions go on. Running: it stops at
        its next streamed chunk and stores no partial reply (`result: canceling`).
        Finished: 409. Watchers of its events get an `error` event with code
        `canceled`."""
        org_id = current_org()
        result = tasks.cancel(org_id, task_id)
        task = tasks.get_task(org_id, task_id)
        return SimpleNamespace(**task._asdict(), result=result)


def _resume_point() -> str:
    given = (request.headers.get("Last-Event-ID")
             or request.args.get("last_event_id") or "").strip()
    if not given:
        return events.FROM_START
    if not events.EVENT_ID.match(given):
        raise BadRequest(f"Last-Event-ID {given!r} is not an event id: send back the id "
                         "of the last event you received (like 1700000000000-0).")
    return given


def _expired(task, final: tuple[str, dict]):
    """A finished task whose stream has expired: say so, and where its result is."""
    name, data = final
    message = (f"The events of task {task.id} have expired; the task is {task.state}. "
               f"Its status: GET /api/task_status/{task.id}.")
    if data.get("message_id"):
        message += (f" Its reply is stored as message {data['message_id']}, in the "
                    "conversation's history.")
    body = {**error_body(410, message), "task_id": task.id, "state": task.state,
            "outcome": {"event": name, "data": data}}
    return jsonify(schemas.EventsExpiredSchema().dump(body)), 410
