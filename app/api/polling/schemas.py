"""The polling face's shapes: integer ids, `history` with roles user/agent."""

from marshmallow import Schema, fields, pre_dump, validate

from app.config import Config
from app.validation import Id, Text

TEXT_FIELD_LIMIT = 200
TITLE_LIMIT = 300
MAX_HISTORY_PAGE = 1000


class DataSetCreateSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=TEXT_FIELD_LIMIT))
    description = Text(load_default="", blank=True, validate=validate.Length(max=10_000))


class DataSetSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    created_at = fields.DateTime()


class DocumentCreateSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=TITLE_LIMIT))
    content = Text(required=True, validate=validate.Length(min=1))


class DocumentUploadSchema(Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)


class DocumentSchema(Schema):
    id = fields.Integer()
    data_set_id = fields.Integer()
    title = fields.String()
    passage_count = fields.Integer()
    created_at = fields.DateTime()


class ConversationCreateSchema(Schema):
    data_set_id = Id(required=True)


class ConversationSchema(Schema):
    id = fields.Integer()
    public_id = fields.String(metadata={
        "description": "the id the dialogue store knows this conversation by "
                       "(GET /dialogue/{public_id})"})
    started_at = fields.DateTime()
    data_set_id = fields.Integer(allow_none=True)
    summary = fields.String(allow_none=True)


class MessageSchema(Schema):
    id = fields.Integer()
    text = fields.String()
    role = fields.String(metadata={"enum": ["user", "agent", "system"]})
    created_at = fields.DateTime()
    reply_to = fields.Integer(attribute="reply_to_id", allow_none=True)


class HistoryQuerySchema(Schema):
    limit = fields.Integer(
        validate=validate.Range(min=1, max=MAX_HISTORY_PAGE),
        metadata={"description": "Return only the latest `limit` messages (before "
                                 "`before`, when given). Without it, the whole history."})
    before = Id(strict=False, metadata={"description": "A message id: page back from it, as given "
                                         "by `older` in the previous page."})


class ConversationWithHistorySchema(ConversationSchema):
    history = fields.List(fields.Nested(MessageSchema))
    older = fields.Integer(allow_none=True, metadata={
        "description": "When the page does not reach the first message: the id to pass "
                       "as `before` for the page before it."})

    @pre_dump
    def _from_page(self, page, **_):
        fields_of_conversation = ConversationSchema._declared_fields
        conversation = {name: getattr(page.conversation, name) for name in fields_of_conversation}
        return {**conversation, "history": page.history, "older": page.older}


class QuestionSchema(Schema):
    question_message = Text(
        required=True,
        validate=validate.Length(min=1, max=Config.MAX_QUESTION_CHARS,
                                 error="Length must be between {min} and {max} characters."))
    data_set_id = Id(allow_none=True, load_default=None)
    callback_url = Text(load_default=None, validate=validate.Length(min=1, max=2000), metadata={
        "description": "Also deliver this task's task.succeeded or task.failed event to "
                       "this URL, signed with the callback secret (POST "
                       "/api/webhooks/callback_secret, needed first) and retried like a "
                       "webhook's; http or https, resolving to public addresses."})


class TaskAcceptedSchema(Schema):
    task_id = fields.String()


# The spec's three states: a STARTED (running) task is still PENDING to it.
PUBLIC_STATE = {"PENDING": "PENDING", "STARTED": "PENDING", "SUCCESS": "SUCCESS",
                "FAILURE": "FAILURE"}
STAGE = {"PENDING": "queued", "STARTED": "running", "SUCCESS": "succeeded",
         "FAILURE": "failed"}
CANCELED_STAGE = {"STARTED": "canceling", "FAILURE": "canceled"}


def stage_of(task) -> str:
    if task.canceled_at is not None:
        return CANCELED_STAGE.get(task.state, STAGE[task.state])
    return STAGE[task.state]


class StatusQuerySchema(Schema):
    wait = fields.Integer(load_default=0, validate=validate.Range(min=0, max=60), metadata={
        "description": "A long poll: answer as soon as the task's state changes (it is "
                       "claimed, or finishes), or after this many seconds (at most 60)."})


class TaskStatusSchema(Schema):
    state = fields.Function(
        lambda task: PUBLIC_STATE[task.state],
        metadata={"enum": ["PENDING", "SUCCESS", "FAILURE"],
                  "description": "PENDING while queued, running or waiting to retry."})
    stage = fields.Function(stage_of, metadata={
        "enum": ["queued", "running", "canceling", "succeeded", "failed", "canceled"],
        "description": "Finer than `state`: whether a PENDING task is queued, running or "
                       "stopping after a cancel; whether a FAILURE was a cancel."})
    task_id = fields.String(attribute="id")
    # A task about no conversation (kinds to come) has none.
    conversation_id = fields.Integer(allow_none=True)
    message_id = fields.Integer(allow_none=True)
    reply_message_id = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    attempts = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
