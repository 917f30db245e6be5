"""The task face's shapes: a cancel's answer, and the 410 of a finished task whose
events have expired."""

from marshmallow import Schema, fields

from app.api.face import ErrorSchema
from app.api.polling.schemas import TaskStatusSchema


class OutcomeSchema(Schema):
    event = fields.String(required=True, metadata={"enum": ["end", "error"]})
    data = fields.Dict(required=True, metadata={
        "description": "the terminal event's data, as the stream would have sent it"})


class EventsExpiredSchema(ErrorSchema):
    """An error body (code 410, status Gone) that also says where the result is."""

    task_id = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": ["SUCCESS", "FAILURE"]})
    outcome = fields.Nested(OutcomeSchema, required=True)


class CancelSchema(TaskStatusSchema):
    """The task's status once cancel was asked, and what cancel did."""

    result = fields.String(required=True, metadata={
        "enum": ["canceled", "canceling"],
        "description": "canceled: it was queued or waiting its turn and has ended (state "
                       "FAILURE, stage canceled); canceling: it is running and stops at "
                       "its next streamed chunk, storing nothing (stage canceling, then "
                       "canceled)."})
