"""The batches' shapes: a request line, the submit body, a batch, a results line."""

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.api.paging import page_schema
from app.api.polling.schemas import QuestionSchema
from app.services import batches
from app.validation import Id, Text


CALLBACK_URL = ("Also deliver the batch's batch.completed event to this URL, signed with "
                "the callback secret (POST /api/webhooks/callback_secret, needed first) "
                "and retried like a webhook's; http or https, resolving to public "
                "addresses.")


class BatchRequestSchema(QuestionSchema):
    """One request: a question for an existing conversation, or for a new conversation
    over a data set."""

    class Meta:
        unknown = RAISE
        exclude = ("callback_url",)  # a batch has one, for its batch.completed

    custom_id = Text(required=True, validate=validate.Length(min=1, max=64), metadata={
        "description": "your id for the request, unique within the batch"})
    conversation_id = Id(load_default=None, metadata={
        "description": "an existing conversation: the question joins it, in order"})
    data_set_id = Id(load_default=None, metadata={
        "description": "or a data set: a new conversation over it is made for the "
                       "question"})

    @validates_schema
    def one_target(self, data, **_):
        if (data.get("conversation_id") is None) == (data.get("data_set_id") is None):
            raise ValidationError("Name exactly one of conversation_id and data_set_id.",
                                  "conversation_id")


class BatchCreateSchema(Schema):
    """The JSON body. (JSON Lines: one request object per line; a multipart upload:
    the lines as the file `file`, and `metadata` as a JSON form field.)"""

    class Meta:
        unknown = RAISE

    requests = fields.List(fields.Nested(BatchRequestSchema), required=True, metadata={
        "description": "up to PARLEY_BATCH_MAX_REQUESTS (10,000) requests"})
    metadata = fields.Dict(load_default=dict, metadata={
        "description": "yours, kept and shown with the batch"})
    callback_url = fields.String(metadata={"description": CALLBACK_URL})


class BatchUploadSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "JSON Lines, one request "
                                                              "object per line"})
    metadata = fields.String(metadata={"description": "a JSON object"})
    callback_url = fields.String(metadata={"description": CALLBACK_URL})


class RequestCountsSchema(Schema):
    total = fields.Integer(required=True)
    queued = fields.Integer(required=True)
    running = fields.Integer(required=True)
    succeeded = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    canceled = fields.Integer(required=True)


class BatchSchema(Schema):
    id = fields.String(attribute="public_id", required=True)
    status = fields.String(required=True, metadata={"enum": [
        batches.IN_PROGRESS, batches.COMPLETED, batches.CANCELING, batches.CANCELED]})
    request_counts = fields.Nested(RequestCountsSchema, required=True)
    metadata = fields.Dict(required=True)
    created_at = fields.DateTime(required=True)
    completed_at = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "when its last request finished"})
    canceled_at = fields.DateTime(required=True, allow_none=True)
    results_url = fields.String(required=True)


class BatchQuerySchema(Schema):
    wait = fields.Integer(load_default=0, validate=validate.Range(min=0, max=60), metadata={
        "description": "A long poll: answer as soon as the batch has completed (or been "
                       "canceled to the end), at most this many seconds later."})


BatchPageSchema = page_schema(BatchSchema, "BatchPage")


class ResultsQuerySchema(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(batches.REQUEST_STATES),
                          metadata={"description": "only the lines in this state"})


class BatchUsageSchema(Schema):
    input_tokens = fields.Integer(allow_none=True)
    output_tokens = fields.Integer(allow_none=True)


class BatchReplySchema(Schema):
    text = fields.String(required=True)
    message_id = fields.Integer(required=True)
    model = fields.String(allow_none=True)
    usage = fields.Nested(BatchUsageSchema)


class ResultLineSchema(Schema):
    """One line of the results (JSON Lines), in input order."""

    custom_id = fields.String(required=True)
    task_id = fields.String(required=True)
    conversation_id = fields.Integer(required=True)
    state = fields.String(required=True, metadata={"enum": list(batches.REQUEST_STATES)})
    reply = fields.Nested(BatchReplySchema, allow_none=True, required=True)
    error = fields.String(allow_none=True, required=True)
