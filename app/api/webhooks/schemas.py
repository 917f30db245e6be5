"""The webhooks' shapes: endpoints (`wh_…`), their secret shown once, deliveries
(`dlv_…`, the webhook-id of the message)."""

from marshmallow import Schema, fields, validate

from app.services.webhook_events import EVENT_TYPES
from app.validation import Text

URL_LIMIT = 2000
DESCRIPTION_LIMIT = 500
MAX_DELIVERIES_PAGE = 100


def Events(**kwargs) -> fields.List:  # noqa: N802 - reads as a field
    return fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)),
                       validate=validate.Length(min=1, max=len(EVENT_TYPES) * 2),
                       metadata={"description": "the event types to receive: "
                                                + ", ".join(EVENT_TYPES)}, **kwargs)


def Url(**kwargs) -> Text:  # noqa: N802 - reads as a field
    return Text(validate=validate.Length(min=1, max=URL_LIMIT), metadata={
        "description": "http or https; its host must resolve to public addresses"},
        **kwargs)


class WebhookCreateSchema(Schema):
    url = Url(required=True)
    events = Events(required=True)
    description = Text(load_default="", blank=True,
                       validate=validate.Length(max=DESCRIPTION_LIMIT))


class WebhookUpdateSchema(Schema):
    url = Url()
    events = Events()
    description = Text(blank=True, validate=validate.Length(max=DESCRIPTION_LIMIT))
    enabled = fields.Boolean(truthy={True}, falsy={False})


class WebhookSchema(Schema):
    id = fields.String(metadata={"description": "wh_…"})
    url = fields.String(allow_none=True, metadata={
        "description": "null on the callbacks endpoint: each delivery has its own"})
    events = fields.List(fields.String())
    description = fields.String()
    enabled = fields.Boolean()
    kind = fields.String(metadata={
        "enum": ["endpoint", "callbacks"],
        "description": "callbacks: the organization's endpoint for per-request "
                       "callback_url deliveries, made by POST /api/webhooks/callback_secret"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(metadata={
        "description": "the signing secret (whsec_…, Standard Webhooks), shown only here"})


class CallbackSecretSchema(Schema):
    webhook_id = fields.String(metadata={"description": "the callbacks endpoint (wh_…)"})
    secret = fields.String(metadata={
        "description": "the secret signing every callback_url delivery (whsec_…), shown "
                       "only here; asking again replaces it"})


class DeliverySchema(Schema):
    id = fields.String(metadata={"description": "dlv_…, the message's webhook-id"})
    webhook_id = fields.String()
    event_type = fields.String()
    status = fields.String(metadata={"enum": ["pending", "succeeded", "failed"]})
    url = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_response_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True, metadata={
        "description": "when a pending delivery that failed is tried again"})
    payload = fields.Dict(metadata={"description": "the body sent: {type, timestamp, data}"})
    task_id = fields.String(metadata={"description": "the task sending it now"})
    created_at = fields.DateTime()


class DeliveryPageSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema))
    older = fields.String(allow_none=True, metadata={
        "description": "when there are older deliveries: pass it as `before` for them"})


class DeliveriesQuerySchema(Schema):
    limit = fields.Integer(load_default=20,
                           validate=validate.Range(min=1, max=MAX_DELIVERIES_PAGE))
    before = fields.String(validate=validate.Length(max=64), metadata={
        "description": "a delivery id: the page of deliveries older than it"})
