"""Routes of the dialogue store face. Each view is one call into app.services; errors
take the spec's shape: {"code": "DIALOGUE_NOT_FOUND", "message": ..., "requestId": ...}."""

import logging

from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.dialogues import schemas
from app.auth import SECURITY_SCHEMES, current_caller, require_caller
from app.errors import BadRequest, register_error_shape
from app.request_ids import current_request_id
from app.services import dialogues
from app.validation import JSONParser

log = logging.getLogger(__name__)

PREFIX = "/dialogue"
blp = Blueprint("dialogues", __name__, url_prefix=PREFIX,
                description="The dialogue store: dialogues with custom ids, namespaces, "
                            "threads, tags, state and metadata; end and compact.")
blp.ARGUMENTS_PARSER = JSONParser()
blp.before_request(require_caller)
SECURITY = [{name: []} for name in SECURITY_SCHEMES]
ACTIONS = ("end", "compact")

# The spec's codes for errors that carry none of their own.
_CODES = {400: "INVALID_INPUT", 401: "UNAUTHORIZED", 404: "NOT_FOUND",
          405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
          415: "INVALID_INPUT", 429: "RATE_LIMIT_EXCEEDED", 503: "SERVICE_UNAVAILABLE"}


def dialogue_error(status: int, message: str, errors: dict | None, code: str | None):
    if status == 422:  # the spec answers every bad input 400 INVALID_INPUT
        status = 400
    body = {"code": code or _CODES.get(status, "INTERNAL_ERROR"), "message": message,
            "requestId": current_request_id()}
    if errors:
        body["errors"] = errors
    return status, body


register_error_shape(PREFIX, dialogue_error)


@blp.after_request
def log_request(response):
    log.info("%s %s -> %s", request.method, request.path, response.status_code)
    return response


def _caller() -> str:
    return current_caller().org_id


def _required(dialogue_id: str) -> str:
    if not dialogue_id.strip():
        raise BadRequest("The dialogue id is missing from the path.", code="MISSING_PARAMETER")
    return dialogue_id


@blp.route("")
class Dialogues(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.ListQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.DialoguePageSchema)
    def get(self, **filters):
        """List dialogues, newest first by default, with a `next` cursor"""
        return dialogues.list_dialogues(_caller(), **filters)

    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.DialogueCreateSchema)
    @blp.response(201, schemas.DialogueSchema)
    def post(self, body):
        """Create a dialogue, with its first messages (at most 25)"""
        return dialogues.create_dialogue(
            _caller(), messages=body["messages"], dialogue_id=body.get("id"),
            namespace=body.get("namespace"), thread_of=body.get("threadOf"),
            state=body.get("state"), metadata=body.get("metadata"), tags=body.get("tags"))

    @blp.doc(security=SECURITY)
    def put(self):
        """(No dialogue id: 400 MISSING_PARAMETER)"""
        raise BadRequest("The dialogue id is missing: PUT /dialogue/{id}.",
                         code="MISSING_PARAMETER")

    @blp.doc(security=SECURITY)
    def delete(self):
        """(No dialogue id: 400 MISSING_PARAMETER)"""
        raise BadRequest("The dialogue id is missing: DELETE /dialogue/{id}.",
                         code="MISSING_PARAMETER")


@blp.route("/<string:dialogue_id>")
class DialogueById(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.DialogueSchema)
    def get(self, dialogue_id):
        """Get a dialogue, with its 10 latest messages and its true message count"""
        return dialogues.with_recent_messages(_caller(), _required(dialogue_id))

    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.DialogueUpdateSchema)
    @blp.response(200, schemas.DialogueSchema)
    def put(self, body, dialogue_id):
        """Replace tags, set the label, merge state, append messages (metadata is fixed)"""
        return dialogues.update_dialogue(
            _caller(), _required(dialogue_id), messages=body["messages"],
            tags=body.get("tags"), label=body.get("label"), state=body.get("state"))

    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.DeletedSchema)
    def delete(self, dialogue_id):
        """Delete a dialogue (its threads stay, as dialogues of their own)"""
        dialogues.delete_dialogue(_caller(), _required(dialogue_id))
        return {"success": True, "id": dialogue_id}


@blp.route("/<string:dialogue_id>/state")
class DialogueState(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.StateUpdateSchema)
    @blp.response(200, schemas.DialogueSchema)
    def put(self, body, dialogue_id):
        """Merge into the state; works on an ended dialogue too"""
        return dialogues.update_state(_caller(), _required(dialogue_id), body["state"])


@blp.route("/<string:dialogue_id>/messages")
class DialogueMessages(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(schemas.MessagesQuerySchema, location="query")
    @blp.response(200, schemas.MessagePageSchema)
    def get(self, query, dialogue_id):
        """The whole history, oldest first by default, with a `next` cursor"""
        return dialogues.list_messages(_caller(), _required(dialogue_id),
                                       limit=query["limit"], order=query["order"],
                                       cursor=query.get("next"))


@blp.route("/<string:dialogue_id>/message/<string:message_id>")
class DialogueMessage(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.DeletedSchema)
    def delete(self, dialogue_id, message_id):
        """Delete one message"""
        dialogues.delete_message(_caller(), _required(dialogue_id), message_id)
        return {"success": True, "id": message_id}


@blp.route("/<string:dialogue_id>/<string:action>")
class DialogueAction(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, schemas.DialogueSchema)
    @blp.alt_response(202, schema=schemas.CompactAcceptedSchema,
                      description="compact: the summary task, to follow at statusUrl")
    def post(self, dialogue_id, action):
        """`end` the dialogue, or `compact` it (an LLM summary, made by a task)"""
        org_id, dialogue_id = _caller(), _required(dialogue_id)
        if action == "end":
            return dialogues.end_dialogue(org_id, dialogue_id)
        if action == "compact":
            task_id = dialogues.compact(org_id, dialogue_id)
            # A Response, so the 200 schema above does not re-shape it.
            return jsonify(schemas.CompactAcceptedSchema().dump({
                "task_id": task_id, "dialogueId": dialogue_id, "status": "PENDING",
                "statusUrl": f"/api/task_status/{task_id}"})), 202
        raise BadRequest(f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}.",
                         code="INVALID_ACTION")
