"""The task events face's shapes: its one JSON answer besides errors, the 410 of a
finished task whose events have expired."""

from marshmallow import Schema, fields

from app.api.face import ErrorSchema


class OutcomeSchema(Schema):
    event = fields.String(required=True, metadata={"enum": ["end", "error"]})
    data = fields.Dict(required=True, metadata={
        "description": "the terminal event's data, as the stream would have sent it"})


class EventsExpiredSchema(ErrorSchema):
    """An error body (code 410, status Gone) that also says where the result is."""

    task_id = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": ["SUCCESS", "FAILURE"]})
    outcome = fields.Nested(OutcomeSchema, required=True)
