"""Routes of the dialogue store face. Each view is one call into app.services; errors
take the spec's shape: {"code": "DIALOGUE_NOT_FOUND", "message": ..., "requestId": ...}."""

import logging

from flask import jsonify, request
from flask.views import MethodView

from app.api.dialogues import schemas
from app.api.face import ErrorFormat, FaceBlueprint
from app.auth import current_org
from app.errors import BadRequest
from app.services import dialogues

log = logging.getLogger(__name__)

# The spec answers every bad input 400 INVALID_INPUT, never 422.
ERRORS = ErrorFormat(schema=schemas.DialogueErrorSchema, body=schemas.dialogue_error,
                     statuses={422: 400})
blp = FaceBlueprint("dialogues", __name__, url_prefix="/dialogue", errors=ERRORS,
                    description="The dialogue store: dialogues with custom ids, namespaces, "
                                "threads, tags, state and metadata; end and compact.")
ACTIONS = ("end", "compact")


@blp.after_request
def log_request(response):
    log.info("%s %s -> %s", request.method, request.path, response.status_code)
    return response


def _required(dialogue_id: str) -> str:
    if not dialogue_id.strip():
        raise BadRequest("The dialogue id is missing from the path.", code="MISSING_PARAMETER")
    return dialogue_id


@blp.route("")
class Dialogues(MethodView):
    @blp.arguments(schemas.ListQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.DialoguePageSchema)
    def get(self, **filters):
        """List dialogues, newest first by default, with a `next` cursor"""
        return dialogues.list_dialogues(current_org(), **filters)

    @blp.idempotent
    @blp.errors(404, 409)
    @blp.arguments(schemas.DialogueCreateSchema)
    @blp.response(201, schemas.DialogueSchema)
    def post(self, body):
        """Create a dialogue, with its first messages (at most 25)

        `dataSetId` (a Parley extension): the data set its questions are answered from;
        an unknown one, or another organization's, is a 404 DATA_SET_NOT_FOUND."""
        return dialogues.create_dialogue(
            current_org(), messages=body["messages"], dialogue_id=body.get("id"),
            namespace=body.get("namespace"), thread_of=body.get("threadOf"),
            state=body.get("state"), metadata=body.get("metadata"), tags=body.get("tags"),
            data_set_id=body.get("dataSetId"))

    @blp.errors(400)
    def put(self):
        """(No dialogue id: 400 MISSING_PARAMETER)"""
        raise BadRequest("The dialogue id is missing: PUT /dialogue/{id}.",
                         code="MISSING_PARAMETER")

    @blp.errors(400)
    def delete(self):
        """(No dialogue id: 400 MISSING_PARAMETER)"""
        raise BadRequest("The dialogue id is missing: DELETE /dialogue/{id}.",
                         code="MISSING_PARAMETER")


@blp.route("/<string:dialogue_id>")
class DialogueById(MethodView):
    @blp.errors(400, 404)
    @blp.response(200, schemas.DialogueSchema)
    def get(self, dialogue_id):
        """Get a dialogue, with its 10 latest messages and its true message count"""
        return dialogues.with_recent_messages(current_org(), _required(dialogue_id))

    @blp.errors(400, 404, 409)
    @blp.arguments(schemas.DialogueUpdateSchema)
    @blp.response(200, schemas.DialogueSchema)
    def put(self, body, dialogue_id):
        """Replace tags, set the label, merge state, append messages (metadata is fixed)

        `dataSetId` (a Parley extension) attaches a data set (null detaches it); an
        unknown one, or another organization's, is a 404 DATA_SET_NOT_FOUND."""
        return dialogues.update_dialogue(
            current_org(), _required(dialogue_id), messages=body["messages"],
            tags=body.get("tags"), label=body.get("label"), state=body.get("state"),
            data_set_id=body.get("dataSetId", dialogues.KEEP))

    @blp.errors(400, 404, 409)
    @blp.response(200, schemas.DeletedSchema)
    def delete(self, dialogue_id):
        """Delete a dialogue (its threads stay, as dialogues of their own)"""
        dialogues.delete_dialogue(current_org(), _required(dialogue_id))
        return {"success": True, "id": dialogue_id}


@blp.route("/<string:dialogue_id>/state")
class DialogueState(MethodView):
    @blp.errors(400, 404)
    @blp.arguments(schemas.StateUpdateSchema)
    @blp.response(200, schemas.DialogueSchema)
    def put(self, body, dialogue_id):
        """Merge into the state; works on an ended dialogue too"""
        return dialogues.update_state(current_org(), _required(dialogue_id), body["state"])


@blp.route("/<string:dialogue_id>/messages")
class DialogueMessages(MethodView):
    @blp.errors(400, 404)
    @blp.arguments(schemas.MessagesQuerySchema, location="query")
    @blp.response(200, schemas.MessagePageSchema)
    def get(self, query, dialogue_id):
        """The whole history, oldest first by default, with a `next` cursor"""
        return dialogues.list_messages(current_org(), _required(dialogue_id),
                                       limit=query["limit"], order=query["order"],
                                       cursor=query.get("next"))


@blp.route("/<string:dialogue_id>/message/<string:message_id>")
class DialogueMessage(MethodView):
    @blp.errors(400, 404, 409)
    @blp.response(200, schemas.DeletedSchema)
    def delete(self, dialogue_id, message_id):
        """Delete one message"""
        dialogues.delete_message(current_org(), _required(dialogue_id), message_id)
        return {"success": True, "id": message_id}


@blp.route("/<string:dialogue_id>/<string:action>", parameters=[
    {"in": "path", "name": "action", "schema": {"type": "string", "enum": list(ACTIONS)}}])
class DialogueAction(MethodView):
    @blp.idempotent
    @blp.errors(400, 404)
    @blp.response(200, schemas.DialogueSchema)
    @blp.alt_response(202, schema=schemas.CompactAcceptedSchema,
                      description="compact: the summary task, to follow at statusUrl")
    def post(self, dialogue_id, action):
        """`end` the dialogue, or `compact` it (an LLM summary, made by a task)"""
        org_id, dialogue_id = current_org(), _required(dialogue_id)
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
