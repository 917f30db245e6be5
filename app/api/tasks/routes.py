"""GET /api/tasks/{task_id}/events: any task's events (replies of every face,
compaction) as Server-Sent Events, from the start or after Last-Event-ID."""

from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import SECURITY_SCHEMES, current_caller, require_caller
from app.errors import BadRequest
from app.services import events, tasks
from app.streaming import sse_response, task_relay

blp = Blueprint("task_events", __name__, url_prefix="/api/tasks",
                description="Any task's progress as Server-Sent Events.")
blp.before_request(require_caller)
SECURITY = [{name: []} for name in SECURITY_SCHEMES]
LAST_EVENT_ID = {"in": "header", "name": "Last-Event-ID", "required": False,
                 "schema": {"type": "string"},
                 "description": "Resume after this event (the `id` of the last one you got); "
                                "also accepted as the query parameter last_event_id."}


@blp.route("/<task_id>/events")
class TaskEvents(MethodView):
    @blp.doc(security=SECURITY, parameters=[LAST_EVENT_ID], responses={
        200: {"description": "Server-Sent Events: start, content, end or error.",
              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        410: {"description": "The task has finished and its events have expired; the "
                             "body points to its stored result."}})
    def get(self, task_id):
        """A task's events, live; resume with Last-Event-ID"""
        org_id = current_caller().org_id
        after = _resume_point()
        task = tasks.get_task(org_id, task_id)
        final = tasks.outcome(task)
        if final is not None and not events.task_events().exists(task_id):
            return _expired(task, final)
        return sse_response(task_relay(org_id, task_id, after))


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
    body = {"code": 410, "status": "Gone", "task_id": task.id, "state": task.state,
            "message": f"The events of task {task.id} have expired; the task is "
                       f"{task.state}. Its status: GET /api/task_status/{task.id}.",
            "outcome": {"event": name, "data": data}}
    if data.get("message_id"):
        body["message"] += (f" Its reply is stored as message {data['message_id']}, "
                            "in the conversation's history.")
    return jsonify(body), 410
