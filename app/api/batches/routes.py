"""Routes of the batches: POST /api/batches (JSON, JSON Lines or a multipart upload),
their status (a long poll with ?wait=), their list, their results as JSON Lines, and
cancel. The polling face's error shape, like every path under /api."""

import json

from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView
from marshmallow import ValidationError

from app.api.batches import schemas
from app.api.face import FaceBlueprint
from app.api.paging import PageQuerySchema
from app.auth import current_org
from app.errors import BadRequest, InvalidInput, UnsupportedMediaType
from app.services import batches, webhooks
from app.services.batches import Request, line_error
from app.validation import parse_json

blp = FaceBlueprint("batches", __name__, url_prefix="/api/batches", rate_limit="polling",
                    description="Many questions in one request: submit, follow, collect "
                                "the results, cancel.")
NDJSON = "application/x-ndjson"
_TOP_LEVEL = {"requests", "metadata", "callback_url"}
_request_schema = schemas.BatchRequestSchema()


@blp.before_request
def _batches_may_be_large() -> None:
    """A batch's body may exceed PARLEY_MAX_BODY_BYTES (set before anything reads it,
    the idempotency key's check included)."""
    request.max_content_length = current_app.config["BATCH_MAX_BODY_BYTES"]


@blp.route("")
class Batches(MethodView):
    @blp.idempotent
    @blp.doc(requestBody={"required": True, "content": {
        "application/json": {"schema": schemas.BatchCreateSchema},
        NDJSON: {"schema": {"type": "string", "description": "one request object per line"}},
        "multipart/form-data": {"schema": schemas.BatchUploadSchema}}})
    @blp.response(202, schemas.BatchSchema)
    def post(self):
        """Submit a batch of questions

        All or nothing: every request is checked first, and if any is bad the answer
        is 422 listing the failing lines (index, custom_id, field; the first 100) and
        nothing is stored. Accepted, the batch is stored at once and its questions
        answered as fast as the model allows."""
        lines, metadata, callback_url = _submitted(request)
        org_id = current_org()
        if callback_url is not None:
            webhooks.check_callback_url(org_id, callback_url)
        return batches.submit(org_id, *_checked(lines), metadata, callback_url)

    @blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    @blp.errors(404)
    @blp.response(200, schemas.BatchPageSchema)
    def get(self, limit, after):
        """List the organization's batches, newest first (cursor paging)"""
        found, next_cursor = batches.page(current_org(), limit, after)
        return {"data": found, "has_more": next_cursor is not None,
                "next_cursor": next_cursor}


@blp.route("/<batch_id>")
class BatchById(MethodView):
    @blp.errors(404)
    @blp.arguments(schemas.BatchQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.BatchSchema)
    def get(self, batch_id, wait):
        """A batch: its status and request counts

        With `wait`, a long poll: the answer comes when the batch completes, or after
        `wait` seconds."""
        return batches.watch(current_org(), batch_id, wait)


@blp.route("/<batch_id>/results")
class BatchResults(MethodView):
    @blp.doc(responses={200: {
        "description": "JSON Lines, one line per request in input order (streamed), each "
                       "with its current state: while the batch runs, unfinished requests "
                       "are listed as queued or running.",
        "content": {NDJSON: {"schema": schemas.ResultLineSchema}}}})
    @blp.errors(404)
    @blp.arguments(schemas.ResultsQuerySchema, location="query", as_kwargs=True)
    def get(self, batch_id, state):
        """A batch's results, as JSON Lines"""
        lines = batches.results(current_org(), batch_id, state)
        first = next(lines, None)  # a 404 is found before the answer starts
        return Response(stream_with_context(_ndjson(first, lines)), mimetype=NDJSON)


@blp.route("/<batch_id>/cancel")
class BatchCancel(MethodView):
    @blp.errors(404, 409)
    @blp.response(200, schemas.BatchSchema)
    def post(self, batch_id):
        """Cancel a batch

        Its queued requests end canceled at once; running ones finish; it is `canceled`
        once none runs. A completed batch: 409."""
        return batches.cancel(current_org(), batch_id)


def _ndjson(first, rest):
    line_schema = schemas.ResultLineSchema()
    if first is not None:
        yield json.dumps(line_schema.dump(first)) + "\n"
    for line in rest:
        yield json.dumps(line_schema.dump(line)) + "\n"


def _submitted(req) -> tuple[list, dict, str | None]:
    """The request lines, the metadata and the callback URL, however the batch was
    sent."""
    if req.mimetype == "multipart/form-data":
        upload = req.files.get("file")
        if upload is None:
            raise InvalidInput("Upload the requests as the multipart field 'file'.",
                               {"files": {"file": ["Missing data for required field."]}})
        return (_json_lines(upload.read()), _metadata(req.form.get("metadata")),
                _callback_url(req.form.get("callback_url"), "form"))
    if req.mimetype == NDJSON:
        return _json_lines(req.get_data()), {}, None
    if not req.is_json:
        raise UnsupportedMediaType(f"Send JSON {{\"requests\": [...]}}, JSON Lines ({NDJSON}) "
                                   "or a multipart upload of a JSON Lines file.")
    body = _parsed(req.get_data())
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise InvalidInput("The body needs a list of requests: {\"requests\": [...]}.",
                           {"json": {"requests": ["Missing data for required field."]}})
    unknown = sorted(set(body) - _TOP_LEVEL)
    if unknown:
        raise InvalidInput(f"Unknown field: {unknown[0]}.",
                           {"json": {name: ["Unknown field."] for name in unknown}})
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a JSON object.",
                           {"json": {"metadata": ["Not a valid mapping type."]}})
    return body["requests"], metadata, _callback_url(body.get("callback_url"), "json")


def _callback_url(given, location: str) -> str | None:
    if given is None:
        return None
    if not isinstance(given, str) or not 1 <= len(given) <= 2000:
        raise InvalidInput("callback_url must be a URL of at most 2,000 characters.",
                           {location: {"callback_url": ["Not a valid URL."]}})
    return given


def _parsed(data: bytes):
    try:
        return parse_json(data)
    except ValueError:
        raise BadRequest("Invalid JSON body.", {"json": ["Invalid JSON body."]}) from None


def _json_lines(data: bytes) -> list:
    """Each non-blank line parsed; a line that is not JSON stays as it is, for the
    check to report by its index."""
    lines = []
    for text in data.splitlines():
        if text.strip():
            try:
                lines.append(parse_json(text))
            except ValueError:
                lines.append(_NOT_JSON)
    return lines


_NOT_JSON = object()


def _metadata(given: str | None) -> dict:
    if given is None:
        return {}
    try:
        metadata = parse_json(given.encode())
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a JSON object.",
                           {"form": {"metadata": ["Not a valid JSON object."]}})
    return metadata


def _checked(lines: list) -> tuple[list[Request], list[dict]]:
    """Every line checked: those that pass, and the failures (any refuses the whole
    batch, listed with what the core finds)."""
    checked, failures, seen = [], [], set()
    for index, line in enumerate(lines):
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        if line is _NOT_JSON:
            failures.append(line_error(index, None, "line", "Not valid JSON."))
            continue
        try:
            loaded = _request_schema.load(line)
        except ValidationError as exc:
            failures.append(_first_problem(index, custom_id, exc.messages))
            continue
        if loaded["custom_id"] in seen:
            failures.append(line_error(index, custom_id, "custom_id",
                                       "Duplicate custom_id: it must be unique within the "
                                       "batch."))
            continue
        seen.add(loaded["custom_id"])
        checked.append(Request(index, loaded["custom_id"], loaded["question_message"],
                               loaded["conversation_id"], loaded["data_set_id"]))
    return checked, failures


def _first_problem(index: int, custom_id, messages) -> dict:
    if not isinstance(messages, dict):  # the line is not an object
        return line_error(index, custom_id, "line", "Each request must be a JSON object.")
    field, problems = next(iter(messages.items()))
    if field == "_schema":
        field = "line"
    problem = problems[0] if isinstance(problems, list) else str(problems)
    return line_error(index, custom_id, field, str(problem))
