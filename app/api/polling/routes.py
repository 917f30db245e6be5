"""Routes of the polling face. Each view is one call into app.services."""

from flask import request
from flask.views import MethodView
from marshmallow import ValidationError

from app.api.face import FaceBlueprint
from app.api.polling import schemas
from app.auth import current_org
from app.errors import BadRequest, InvalidInput, UnsupportedMediaType, describe_errors
from app.services import conversations, data_sets, replies, tasks
from app.validation import ID_CONVERTER, is_storable, parse_json

blp = FaceBlueprint("polling", __name__, url_prefix="/api",
                    description="Conversations over a data set, answered asynchronously: "
                                "post a question, poll the task, read the history.")
UPLOAD_TYPES = (".txt", ".md", ".markdown")


@blp.route("/data_sets")
class DataSets(MethodView):
    @blp.response(200, schemas.DataSetSchema(many=True))
    def get(self):
        """List the organization's data sets"""
        return data_sets.list_data_sets(current_org())

    @blp.idempotent
    @blp.arguments(schemas.DataSetCreateSchema)
    @blp.response(201, schemas.DataSetSchema)
    def post(self, body):
        """Create a data set"""
        return data_sets.create_data_set(current_org(), **body)


@blp.route(f"/data_sets/<{ID_CONVERTER}:data_set_id>")
class DataSetById(MethodView):
    @blp.errors(404)
    @blp.response(200, schemas.DataSetSchema)
    def get(self, data_set_id):
        """Get a data set"""
        return data_sets.get_data_set(current_org(), data_set_id)


@blp.route(f"/data_sets/<{ID_CONVERTER}:data_set_id>/documents")
class Documents(MethodView):
    @blp.errors(404)
    @blp.response(200, schemas.DocumentSchema(many=True))
    def get(self, data_set_id):
        """List a data set's documents"""
        return data_sets.list_documents(current_org(), data_set_id)

    @blp.idempotent
    # Two ways in, which flask-smorest's @arguments cannot express together: the
    # request body is documented here and parsed by _document_from().
    @blp.doc(requestBody={"required": True, "content": {
        "application/json": {"schema": schemas.DocumentCreateSchema},
        "multipart/form-data": {"schema": schemas.DocumentUploadSchema}}})
    @blp.errors(404)
    @blp.response(201, schemas.DocumentSchema)
    def post(self, data_set_id):
        """Add a document: JSON {title, content}, or a multipart upload of a .txt/.md file

        Its text is split into passages and indexed for retrieval at once."""
        title, content = _document_from(request)
        return data_sets.add_document(current_org(), data_set_id, title, content)


@blp.route("/conversations")
class Conversations(MethodView):
    @blp.idempotent
    @blp.errors(404)
    @blp.arguments(schemas.ConversationCreateSchema)
    @blp.response(201, schemas.ConversationSchema)
    def post(self, body):
        """Start a conversation over a data set"""
        return conversations.create_conversation(current_org(), body["data_set_id"])


@blp.route(f"/conversations/<{ID_CONVERTER}:conversation_id>")
class ConversationById(MethodView):
    @blp.conditional
    @blp.errors(404)
    @blp.arguments(schemas.HistoryQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.ConversationWithHistorySchema)
    def get(self, conversation_id, limit=None, before=None):
        """Get a conversation and its history, in order

        The whole history, or with `limit` its latest messages (and with `before`, the
        page before a message), as cheap deep in a long conversation as at its end."""
        return conversations.get_history_page(current_org(), conversation_id,
                                              limit, before)

    @blp.idempotent
    @blp.errors(404, 409)
    @blp.arguments(schemas.QuestionSchema)
    @blp.response(202, schemas.TaskAcceptedSchema)
    def post(self, body, conversation_id):
        """Send a question; the reply is produced asynchronously

        Poll GET /api/task_status/{task_id} until SUCCESS or FAILURE, or give a
        callback_url to be told."""
        posted = replies.post_question(current_org(), conversation_id,
                                       body["question_message"], body["data_set_id"],
                                       callback_url=body["callback_url"])
        return {"task_id": posted.task_id}


@blp.route("/task_status/<task_id>")
class TaskStatus(MethodView):
    @blp.conditional
    @blp.errors(404)
    @blp.arguments(schemas.StatusQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.TaskStatusSchema)
    def get(self, task_id, wait):
        """The state of a task: PENDING, SUCCESS or FAILURE (with its error)

        With `wait`, a long poll: the answer comes when the task is claimed or finishes,
        or after `wait` seconds."""
        return tasks.watch(current_org(), task_id, wait)


def _document_from(req) -> tuple[str, str]:
    """A document comes as JSON or as an uploaded text file, whichever was sent."""
    if req.mimetype == "multipart/form-data":
        upload = req.files.get("file")
        if upload is None:
            raise InvalidInput("Upload the document as the multipart field 'file'.",
                               {"files": {"file": ["Missing data for required field."]}})
        return _read_upload(upload)
    if not req.is_json:
        raise UnsupportedMediaType("Send JSON {\"title\": ..., \"content\": ...} or a "
                                   "multipart upload of a .txt/.md file.")
    try:
        body = parse_json(req.get_data(cache=True))
    except ValueError:
        raise BadRequest("Invalid JSON body.", {"json": ["Invalid JSON body."]}) from None
    try:
        document = schemas.DocumentCreateSchema().load(body)
    except ValidationError as exc:
        errors = {"json": exc.messages}
        raise InvalidInput(describe_errors(errors), errors) from None
    return document["title"], document["content"]


def _read_upload(file) -> tuple[str, str]:
    name = file.filename or ""
    if not name.lower().endswith(UPLOAD_TYPES):
        raise InvalidInput("Only .txt and .md files can be uploaded.",
                           {"files": {"file": [f"Unsupported file type: {name!r}."]}})
    try:
        content = file.read().decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The file is not UTF-8 text.",
                           {"files": {"file": ["Not valid UTF-8 text."]}}) from None
    if not content.strip():
        raise InvalidInput("The file is empty.", {"files": {"file": ["Empty file."]}})
    if not is_storable(content):
        raise InvalidInput("The file contains NUL characters.",
                           {"files": {"file": ["Not a text file."]}})
    title = name.rsplit("/", 1)[-1].rsplit(".", 1)[0] or name
    if not is_storable(title):
        raise InvalidInput("The file name cannot be used as a title.",
                           {"files": {"file": ["File name holds NUL or invalid characters."]}})
    return title[:schemas.TITLE_LIMIT], content

