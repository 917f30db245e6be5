"""The dialog sessions face's shapes: `dialog_…` and `job_…` ids, the spec's fields."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.paging import PageQuerySchema, page_schema  # noqa: F401 - its routes use them
from app.services import briefings
from app.validation import Text, is_storable

SESSION_STATUSES = ["active", "confirmed", "cancelled", "expired"]
JOB_STATUSES = ["queued", "running", "completed", "failed"]
PREVIEW_CHARS = 1_000
NAME_CHARS = 200


def storable_json(value) -> None:
    """Every string of a JSON value (keys included) can be stored."""
    if isinstance(value, str):
        if not is_storable(value):
            raise ValidationError("Text must be valid Unicode without NUL characters.")
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_json(key)
            storable_json(item)
    elif isinstance(value, list):
        for item in value:
            storable_json(item)


def StorableDict(**kwargs) -> fields.Dict:  # noqa: N802 - reads as a field
    return fields.Dict(keys=fields.String(), validate=storable_json, **kwargs)


def _optional_text(limit: int, **kwargs) -> Text:
    return Text(allow_none=True, load_default=None, validate=validate.Length(max=limit),
                **kwargs)


class ErrorDetailSchema(Schema):
    status = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    code = fields.String(required=True, metadata={
        "description": "a stable code: session_not_found, not_session_owner, "
                       "session_not_active, prompt_injection, message_limit, "
                       "monthly_session_limit, parallel_session_limit, "
                       "briefing_incomplete, invalid_request, unauthorized…"})
    message = fields.String(required=True)
    details = fields.Dict(metadata={"description": "the fields at fault (by location), or "
                                                   "the briefing's missing_fields"})


class DialogErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


# -- sessions ----------------------------------------------------------------------------

class ContextSchema(Schema):
    source_lang = _optional_text(16)
    target_lang = _optional_text(16)
    glossary_id = _optional_text(32)
    glossary_ids = fields.List(Text(validate=validate.Length(min=1, max=32)),
                               allow_none=True, load_default=None,
                               validate=validate.Length(min=1, max=20))
    style_ref_id = _optional_text(32)
    preset_id = _optional_text(32, metadata={"description": "a preset's or a template's id"})


class MetadataSchema(Schema):
    """The attached file's fields: set at creation, changed by PATCH …/metadata."""

    file_name = _optional_text(255)
    file_type = _optional_text(255)
    file_preview = _optional_text(PREVIEW_CHARS)


class DialogSessionCreateSchema(MetadataSchema):
    mode = fields.String(required=True, validate=validate.OneOf(briefings.MODES))
    language = _optional_text(16, metadata={"description": "UI language hint"})
    text = _optional_text(briefings.MAX_TEXT_CHARS)
    input_material = StorableDict(allow_none=True, load_default=None)
    context = fields.Nested(ContextSchema, allow_none=True, load_default=None)


class ActionSchema(Schema):
    action = fields.String(required=True)
    label = fields.String(required=True)
    payload = fields.Dict(required=True)


class DialogMessageSchema(Schema):
    role = fields.String(required=True, metadata={"enum": ["user", "assistant"]})
    content = fields.String(required=True)
    timestamp = fields.DateTime(required=True)


class AssistantMessageSchema(DialogMessageSchema):
    actions = fields.List(fields.Nested(ActionSchema), required=True)


class DialogSessionCreatedSchema(Schema):
    session_id = fields.String(attribute="session.public_id", required=True)
    status = fields.String(attribute="session.status", required=True,
                           metadata={"enum": SESSION_STATUSES})
    phase = fields.Integer(attribute="session.phase", required=True)
    message = fields.Nested(AssistantMessageSchema, required=True)


class DialogSessionSchema(Schema):
    session_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": SESSION_STATUSES})
    mode = fields.String(required=True, metadata={"enum": list(briefings.MODES)})
    phase = fields.Integer(required=True)
    language = fields.String(allow_none=True)
    messages = fields.List(fields.Nested(DialogMessageSchema), required=True)
    message_count = fields.Integer(required=True)
    cost_eur = fields.Float(required=True)
    file_name = fields.String(allow_none=True)
    file_type = fields.String(allow_none=True)
    file_preview = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)


class TurnSchema(Schema):
    message = Text(required=True, validate=validate.Length(min=1, max=10_000))


class PreviewSchema(Schema):
    briefing_json = fields.Dict(required=True)
    completeness = fields.Float(required=True)
    missing_fields = fields.List(fields.String(), required=True)
    warnings = fields.List(fields.String(), required=True)
    phase = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": SESSION_STATUSES})


class ConfirmSchema(Schema):
    save_as_template = fields.Boolean(load_default=False)
    template_name = Text(allow_none=True, load_default=None,
                         validate=validate.Length(min=1, max=NAME_CHARS))


class ConfirmedSchema(Schema):
    session_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["confirmed"]})
    job_id = fields.String(required=True)
    job_status = fields.String(required=True, metadata={"enum": JOB_STATUSES})
    template_id = fields.String(required=True, allow_none=True)


# -- jobs ----------------------------------------------------------------------------------

class UsageSchema(Schema):
    input_tokens = fields.Integer(allow_none=True)
    output_tokens = fields.Integer(allow_none=True)


class JobSchema(Schema):
    job_id = fields.String(required=True)
    session_id = fields.String(required=True)
    mode = fields.String(required=True, metadata={"enum": list(briefings.MODES)})
    status = fields.String(required=True, metadata={"enum": JOB_STATUSES})
    task_id = fields.String(required=True, metadata={
        "description": "its progress: GET /api/tasks/{task_id}/events"})
    briefing = fields.Dict(required=True)
    result = fields.Dict(allow_none=True, metadata={
        "description": "text, and what the job reports: glossary_terms_applied, "
                       "model_available, translated, note"})
    error = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    usage = fields.Nested(UsageSchema, required=True)
    cost_eur = fields.Float(required=True)
    template_id = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


JobPageSchema = page_schema(JobSchema, "JobPage")


# -- the organization's resources ------------------------------------------------------------

def _language(**kwargs) -> Text:
    def known(value):
        if value is not None and briefings.language_code(value) != value:
            raise ValidationError("Not a language code Parley knows (e.g. de, en, fr).")
    return Text(validate=[validate.Length(max=16), known], **kwargs)


class TermSchema(Schema):
    source = Text(required=True, validate=validate.Length(min=1, max=200))
    target = Text(required=True, validate=validate.Length(min=1, max=200))


class GlossaryInSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=NAME_CHARS))
    source_lang = _language(required=True)
    target_lang = _language(required=True)
    terms = fields.List(fields.Nested(TermSchema), required=True,
                        validate=validate.Length(max=5_000))


class StyleReferenceInSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=NAME_CHARS))
    text = Text(required=True, validate=validate.Length(min=1, max=20_000))


class BriefingInSchema(Schema):
    """A preset's or template's partial briefing: its fields as a preview names them."""

    name = Text(required=True, validate=validate.Length(min=1, max=NAME_CHARS))
    briefing = StorableDict(required=True, metadata={
        "description": "briefing fields (source_lang, target_lang, domain, tone, "
                       "glossary_id, style_ref_id, instructions…)"})

    @validates_schema
    def known_fields(self, data, **kwargs):
        unknown = set(data.get("briefing", {})) - set(briefings.FIELDS) - {"mode"}
        if unknown:
            raise ValidationError(f"Not briefing fields: {', '.join(sorted(unknown))}.",
                                  "briefing")


class ResourceSchema(Schema):
    id = fields.String(attribute="public_id", required=True)
    name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class GlossarySchema(ResourceSchema):
    source_lang = fields.String(attribute="data.source_lang", required=True)
    target_lang = fields.String(attribute="data.target_lang", required=True)
    terms = fields.List(fields.Nested(TermSchema), attribute="data.terms", required=True)


class StyleReferenceSchema(ResourceSchema):
    text = fields.String(attribute="data.text", required=True)


class BriefingResourceSchema(ResourceSchema):
    briefing = fields.Dict(attribute="data.briefing", required=True)


# -- tokens ----------------------------------------------------------------------------------

class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"enum": ["Bearer"]})
    expires_in = fields.Integer(required=True)
    expires_at = fields.String(required=True)
