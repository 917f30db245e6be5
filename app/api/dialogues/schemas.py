"""The dialogue store's request, response and error shapes. The core's "agent" role is
the spec's "assistant" (app.services.agent_io); its conversation is the spec's
dialogue."""

import re
from datetime import date, datetime, time, timedelta, timezone

from marshmallow import (Schema, ValidationError, fields, post_dump, post_load, pre_load,
                         validate, validates_schema)

from app.errors import BadRequest
from app.request_ids import current_request_id
from app.services.agent_io import API_ROLES, CORE_ROLES
from app.services.dialogues import MAX_MESSAGES_PER_WRITE
from app.validation import Id, Text

# Ids travel in paths: letters, digits and . _ : - only.
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
MAX_TAGS = 50
CREATED_PREFIX = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


# The spec's codes for errors that carry none of their own.
ERROR_CODES = {400: "INVALID_INPUT", 401: "UNAUTHORIZED", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
               415: "INVALID_INPUT", 429: "RATE_LIMIT_EXCEEDED", 503: "SERVICE_UNAVAILABLE"}


class DialogueErrorSchema(Schema):
    code = fields.String(required=True, metadata={"example": "DIALOGUE_NOT_FOUND"})
    message = fields.String(required=True)
    requestId = fields.String(required=True, metadata={  # noqa: N815 - the spec's name
        "description": "also sent as the X-Request-Id header, and in the server's logs"})
    errors = fields.Dict(metadata={"description": "bad input: the fields at fault"})


def dialogue_error(status: int, message: str, errors: dict | None, code: str | None) -> dict:
    """The spec's error body. Its codes are upper case: one the core names in lower case,
    as the faces share it (idempotency_key_reused), is shown so (IDEMPOTENCY_KEY_REUSED)."""
    code = (code or ERROR_CODES.get(status, "INTERNAL_ERROR")).upper()
    body = {"code": code, "message": message, "requestId": current_request_id()}
    if errors:
        body["errors"] = errors
    return body


DATA_SET = ("Parley extension: the data set (GET /api/data_sets) the agent answers this "
            "dialogue's questions from (asked through a conversation service session).")


def DataSetId(description: str = DATA_SET) -> fields.Integer:  # noqa: N802 - reads as a field
    """A data set of the caller's (an unknown one: 404 DATA_SET_NOT_FOUND); null, none."""
    return Id(allow_none=True, metadata={"description": description})


def PublicId(**kwargs) -> fields.String:  # noqa: N802 - reads as a field
    return fields.String(validate=validate.Regexp(
        ID_PATTERN, error="Ids are 1 to 64 letters, digits, '.', '_', ':' or '-'."), **kwargs)


def Tags(**kwargs) -> fields.List:  # noqa: N802 - reads as a field
    return fields.List(Text(validate=validate.Length(min=1, max=100)),
                       validate=validate.Length(max=MAX_TAGS), **kwargs)


class UTCDateTime(fields.DateTime):
    """An ISO 8601 timestamp; one without a zone is taken as UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class MessageInSchema(Schema):
    id = PublicId()
    content = Text(required=True, validate=validate.Length(min=1, max=100_000))
    role = fields.String(required=True, validate=validate.OneOf(list(CORE_ROLES)))
    name = Text(validate=validate.Length(max=200))
    created = UTCDateTime()
    tags = Tags()
    metadata = fields.Dict(keys=fields.String())

    @post_load
    def to_core_role(self, data, **kwargs):
        return {**data, "role": CORE_ROLES[data["role"]]}


class _MessagesIn(Schema):
    """`message` or `messages`, never both, at most 25; loaded as one list."""

    message = fields.Nested(MessageInSchema)
    messages = fields.List(fields.Nested(MessageInSchema))

    @pre_load
    def count_messages(self, data, **kwargs):
        # Before each message is checked, so the limit's own error code wins.
        if isinstance(data, dict) and isinstance(data.get("messages"), list) \
                and len(data["messages"]) > MAX_MESSAGES_PER_WRITE:
            raise BadRequest(f"At most {MAX_MESSAGES_PER_WRITE} messages at a time; "
                             f"{len(data['messages'])} were sent.", code="TOO_MANY_MESSAGES")
        return data

    @validates_schema
    def one_or_the_other(self, data, **kwargs):
        if "message" in data and "messages" in data:
            raise ValidationError("Send `message` or `messages`, not both.", "messages")

    @post_load
    def as_list(self, data, **kwargs):
        single = data.pop("message", None)
        data["messages"] = [single] if single else data.get("messages", [])
        return data


class DialogueCreateSchema(_MessagesIn):
    id = PublicId()
    namespace = Text(validate=validate.Length(min=1, max=200))
    threadOf = PublicId()  # noqa: N815 - the spec's name
    state = fields.Dict(keys=fields.String())
    metadata = fields.Dict(keys=fields.String())
    tags = Tags()
    dataSetId = DataSetId()  # noqa: N815 - the face's naming


class DialogueUpdateSchema(_MessagesIn):
    tags = Tags()
    label = Text(validate=validate.Length(max=128))
    state = fields.Dict(keys=fields.String())
    dataSetId = DataSetId(DATA_SET + " Null detaches it; left out, it stays.")  # noqa: N815
    # Named only to be refused with a clear message.
    metadata = fields.Raw()

    @validates_schema
    def metadata_is_fixed(self, data, **kwargs):
        if "metadata" in data:
            raise ValidationError("A dialogue's metadata is set at creation and cannot be "
                                  "changed; use tags, label or state.", "metadata")


class StateUpdateSchema(Schema):
    state = fields.Dict(keys=fields.String(), required=True)


class ListQuerySchema(Schema):
    threadOf = PublicId()  # noqa: N815
    namespace = fields.String(validate=validate.Length(min=1, max=200))
    created = fields.String(metadata={"description": "a date prefix: 2025, 2025-01 or "
                                                     "2025-01-15 (UTC)"})
    startDate = fields.String(metadata={"description": "ISO 8601; created on or after"})  # noqa: N815
    endDate = fields.String(metadata={"description": "ISO 8601; created on or before (a "  # noqa: N815
                                                     "date alone: to the end of that day)"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))
    next = fields.String(validate=validate.Length(min=1, max=500))

    @post_load
    def as_filters(self, data, **kwargs):
        """The date filters as a creation-time range for the service."""
        filters = {"limit": data["limit"], "order": data["order"],
                   "cursor": data.get("next"), "thread_of": data.get("threadOf"),
                   "namespace": data.get("namespace")}
        # The bounds every date filter sets; the tightest of each kind applies.
        starts, ends_before, end_until = [], [], None
        if "created" in data:
            start, end = _prefix_range(data["created"])
            starts.append(start)
            ends_before.append(end)
        if "startDate" in data:
            starts.append(_moment(data["startDate"], "startDate", end_of_day=False))
        if "endDate" in data:
            end = _moment(data["endDate"], "endDate", end_of_day=True)
            if isinstance(end, tuple):  # a date alone: before the next day
                ends_before.append(end[0])
            else:
                end_until = end
        filters.update(created_from=max(starts, default=None),
                       created_before=min(ends_before, default=None),
                       created_until=end_until)
        return filters


def _prefix_range(prefix: str) -> tuple[datetime, datetime]:
    match = CREATED_PREFIX.match(prefix)
    try:
        if not match:
            raise ValueError
        year, month, day = (int(part) if part else None for part in match.groups())
        start = date(year, month or 1, day or 1)
        if day:
            end = start + timedelta(days=1)
        elif month:
            end = date(year + month // 12, month % 12 + 1, 1)
        else:
            end = date(year + 1, 1, 1)
    except ValueError:
        raise ValidationError("A date prefix: YYYY, YYYY-MM or YYYY-MM-DD.", "created") from None
    return _midnight(start), _midnight(end)


def _moment(value: str, name: str, end_of_day: bool):
    """An ISO 8601 date or timestamp (UTC unless it names a zone). With end_of_day, a
    date alone comes back as (the next midnight,), an exclusive bound."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value)
            return (_midnight(day + timedelta(days=1)),) if end_of_day else _midnight(day)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("An ISO 8601 date or timestamp, e.g. 2025-01-15 or "
                              "2025-01-15T10:00:00Z.", name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


class MessagesQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    next = fields.String(validate=validate.Length(min=1, max=500))


class DialogueMessageSchema(Schema):
    id = fields.String(attribute="public_id")
    role = fields.Function(lambda message: API_ROLES[message.role],
                           metadata={"enum": list(CORE_ROLES)})
    content = fields.String(attribute="text")
    name = fields.String(allow_none=True)
    created = fields.DateTime(attribute="created_at")
    tags = fields.Function(lambda message: message.tags or [])
    metadata = fields.Function(lambda message: message.meta or {})

    @post_dump
    def drop_empty_name(self, data, **kwargs):
        if data.get("name") is None:
            data.pop("name", None)
        return data


class DialogueSchema(Schema):
    """A DialogueView: the dialogue, its parent's id, its counts, maybe messages."""

    id = fields.String(attribute="dialogue.public_id")
    projectId = fields.String(attribute="dialogue.org_id")  # noqa: N815
    namespace = fields.String(attribute="dialogue.namespace", allow_none=True)
    threadOf = fields.String(attribute="thread_of", allow_none=True)  # noqa: N815
    totalMessages = fields.Integer(attribute="counts.total_messages")  # noqa: N815
    threadCount = fields.Integer(attribute="dialogue.thread_count")  # noqa: N815
    lastMessageCreated = fields.DateTime(  # noqa: N815
        attribute="counts.last_message_created", allow_none=True)
    status = fields.String(attribute="dialogue.status",
                           metadata={"enum": ["active", "ended", "archived"]})
    label = fields.String(attribute="dialogue.label", allow_none=True)
    tags = fields.List(fields.String(), attribute="dialogue.tags")
    state = fields.Dict(attribute="dialogue.state")
    metadata = fields.Dict(attribute="dialogue.meta")
    dataSetId = fields.Integer(attribute="dialogue.data_set_id",  # noqa: N815
                               allow_none=True, metadata={"description": DATA_SET +
                                                          " Left out when it has none."})
    summary = fields.String(attribute="dialogue.summary", allow_none=True)
    summaryCreated = fields.DateTime(attribute="dialogue.summarized_at",  # noqa: N815
                                     allow_none=True)
    created = fields.DateTime(attribute="dialogue.started_at")
    modified = fields.DateTime(attribute="dialogue.updated_at")
    messages = fields.List(fields.Nested(DialogueMessageSchema), allow_none=True)

    @post_dump
    def drop_absent(self, data, **kwargs):
        """Optional fields the dialogue does not have are left out, not null."""
        for name in ("namespace", "threadOf", "lastMessageCreated", "label", "dataSetId",
                     "summary", "summaryCreated", "messages"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class DialoguePageSchema(Schema):
    items = fields.List(fields.Nested(DialogueSchema))
    next = fields.String(allow_none=True)


class MessagePageSchema(Schema):
    items = fields.List(fields.Nested(DialogueMessageSchema))
    next = fields.String(allow_none=True)


class DeletedSchema(Schema):
    success = fields.Boolean()
    id = fields.String()


class CompactAcceptedSchema(Schema):
    task_id = fields.String()
    dialogueId = fields.String()  # noqa: N815
    status = fields.String()
    statusUrl = fields.String()  # noqa: N815
