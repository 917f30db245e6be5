"""One pattern for every face: a face is a FaceBlueprint, its routes and its schemas.

A FaceBlueprint gives each face what every face would otherwise repeat:
- JSON bodies read by app.validation's parser (unparseable → 400, not JSON → 415);
- authentication before every view, then the face's own Guard if it has one;
- the face's error body for every error answered under its paths (app.errors);
- in the OpenAPI document, on every operation: the security requirement, the guard's
  parameters, and each error the operation can answer, described by the face's own
  error schema (flask-smorest's default error responses are replaced; its `Error`
  schema is app.errors.error_body's, set in create_app).

A view declares only the errors that are its own: @blp.errors(404, 409). A read a
client polls can be made conditional: @blp.conditional (an ETag, and 304 Not Modified
for If-None-Match). A POST that creates something is made idempotent with
@blp.idempotent (an `Idempotency-Key` header: a retry gets the first answer again).
"""

import logging
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from functools import partial, wraps
from http import HTTPStatus

from flask import Response, current_app, make_response, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from app.auth import SECURITY, current_org, require_caller
from app.cors import is_preflight
from app.errors import ParleyError, error_body, register_error_shape
from app.services import idempotency
from app.validation import JSONParser

log = logging.getLogger(__name__)

# What any operation can answer: no or a bad key, over the face's rate limit
# (app/rate_limits.py), the database unreachable.
ALWAYS = (401, 429, 503)
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                               "schema": {"type": "integer"}}}
# What reading a JSON body can answer: unparseable, over PARLEY_MAX_BODY_BYTES, not
# JSON, fields at fault.
BODY_ERRORS = (400, 413, 415, 422)
QUERY_ERRORS = (422,)
# What gunicorn answers before any face sees the request (app/gunicorn_conf.py), in the
# common error body whatever the face: a request line or headers over its limits.
WEB_SERVER_ERRORS = {414: "The request line is over the web server's limit.",
                     431: "A header, or the number of headers, is over the web "
                          "server's limits."}
DEFAULT_DESCRIPTION = "Any other error (a method the path does not take, a server fault)."
IF_NONE_MATCH = {"in": "header", "name": "If-None-Match", "required": False,
                 "schema": {"type": "string"},
                 "description": "The ETag of the representation you have: 304, with no body, "
                                "while it is still the current one."}
NOT_MODIFIED = {"description": "Not Modified: the representation If-None-Match names is "
                               "still the current one (no body; the ETag again).",
                "headers": {"ETag": {"schema": {"type": "string"}}}}

IDEMPOTENCY_KEY = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_CHARS,
               "pattern": idempotency.KEY_PATTERN},
    "description": "Any string of yours (a UUID is a good one), new for each new request: "
                   "sent again with the same request within 24 hours, the first answer "
                   "is replayed (Idempotent-Replayed: true) and nothing is created again. "
                   "The same key with another request: 422 (400 where the face answers "
                   "bad input so); while the first is still being handled: 409."}
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED = {REPLAYED_HEADER: {
    "description": "`true` when this is the answer recorded for an earlier request with "
                   "the same Idempotency-Key, replayed.",
    "schema": {"type": "string", "enum": ["true"]}}}
# What an Idempotency-Key can answer: malformed (400), in use (409), reused (422).
IDEMPOTENCY_ERRORS = (400, 409, 422)
# Answered before the key is looked at: never a replay.
NOT_REPLAYED = (401, 413, *WEB_SERVER_ERRORS)
# The headers of an answer a replay repeats (X-Task-Id: the task a streamed answer
# relays, announced by the view).
REPLAYED_HEADERS = ("Content-Type", "Location", "X-Task-Id")
TASK_HEADER = "X-Task-Id"

# (status, message, errors, code) -> the body of an error response.
ErrorBody = Callable[[int, str, dict | None, str | None], dict]


class ErrorSchema(Schema):
    """The error body of app.errors.error_body."""

    code = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    status = fields.String(required=True, metadata={"description": "its reason phrase"})
    message = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "bad input: the fields at fault, by "
                                                  "location (json, query, files)"})


def standard_body(status: int, message: str, errors: dict | None, code: str | None) -> dict:
    return error_body(status, message, errors)


@dataclass(frozen=True)
class ErrorFormat:
    """A face's error responses: their body, the schema documenting it, and the
    statuses the face's spec answers as another (e.g. every bad input as 400)."""

    schema: type[Schema] = ErrorSchema
    body: ErrorBody = standard_body
    statuses: Mapping[int, int] = field(default_factory=dict)

    def status_of(self, status: int) -> int:
        return self.statuses.get(status, status)

    def answer(self, status: int, message: str, errors: dict | None,
               code: str | None) -> tuple[int, dict]:
        status = self.status_of(status)
        return status, self.body(status, message, errors, code)


@dataclass(frozen=True)
class Guard:
    """A check a face makes on every request once the caller is known, with the
    parameters it reads and the statuses it can answer, for every operation's doc.
    (A view's own `@blp.doc(parameters=...)` replaces the list: a guarded face
    documents its views' parameters with schemas.)"""

    check: Callable[[], None]
    parameters: tuple[dict, ...] = ()
    errors: tuple[int, ...] = ()


class FaceBlueprint(Blueprint):
    ARGUMENTS_PARSER = JSONParser()

    def __init__(self, name: str, import_name: str, *, url_prefix: str, description: str,
                 errors: ErrorFormat = ErrorFormat(), paths: tuple[str, ...] = (),
                 guard: Guard | None = None, rate_limit: str | None = None):
        """`paths`: where the face's error body applies, when not just `url_prefix`
        (a face sharing its prefix with another names its own paths). `rate_limit`: the
        face whose request limit (RATE_LIMITS) it counts against; by default its own."""
        super().__init__(name, import_name, url_prefix=url_prefix, description=description)
        self.error_format = errors
        self.error_paths = paths or (url_prefix,)
        self.guard = guard
        self.rate_limit = rate_limit or name
        self.before_request(self._admit)
        self._prepare_doc_cbks.append(self._prepare_face_doc)

    def register(self, app, options) -> None:
        super().register(app, options)
        for path in self.error_paths:
            register_error_shape(app, path, self.error_format.answer)

    def _admit(self) -> None:
        if is_preflight():  # a browser asking what it may send, with no credentials
            return
        require_caller()
        if self.guard is not None:
            self.guard.check()

    @staticmethod
    def errors(*statuses: int):
        """Document the errors a view can answer beyond what every operation can
        (ALWAYS, the guard's, and its arguments'): e.g. @blp.errors(404, 409)."""

        def decorator(func):
            doc = deepcopy(getattr(func, "_apidoc", {}))
            doc["face_errors"] = sorted({*doc.get("face_errors", ()), *statuses})
            func._apidoc = doc
            return func

        return decorator

    @staticmethod
    def conditional(func):
        """Answer with an ETag (a hash of the body), and with 304 Not Modified and no
        body when the request's If-None-Match names it: a client polling an unchanged
        resource gets a few bytes back. Put above @blp.response."""

        @wraps(func)
        def wrapper(*args, **kwargs):
            response = func(*args, **kwargs)
            response.add_etag()
            return response.make_conditional(request)

        wrapper._apidoc = {**deepcopy(getattr(func, "_apidoc", {})), "conditional": True}
        return wrapper

    @staticmethod
    def idempotent(func=None, *, stream: Callable[..., Response] | None = None):
        """Make a POST that creates something idempotent: sent with an `Idempotency-Key`
        header, it runs once per organization and key, and a retry gets the first answer
        again with `Idempotent-Replayed: true` (app/services/idempotency.py has the
        rules). Put it above every other decorator of the view: @blp.idempotent.

        A view answering with a stream of a task's events names the task in the
        X-Task-Id header, and passes `stream`: called as stream(task_id, **view_args)
        on a replay, it relays that task's events again from the start (no new task).
        Documented in OpenAPI on the operation: the header, the replay header, 409, 422."""
        if func is None:
            return partial(FaceBlueprint.idempotent, stream=stream)

        @wraps(func)
        def wrapper(*args, **kwargs):
            key = request.headers.get("Idempotency-Key")
            if key is None:
                return func(*args, **kwargs)
            taken = idempotency.begin(current_org(), idempotency.check_key(key),
                                      _fingerprint())
            if isinstance(taken, idempotency.Answer):
                return _replay(taken, stream, kwargs)
            try:
                response = make_response(func(*args, **kwargs))
            except (ParleyError, HTTPException) as exc:
                # An answer all the same (a 4xx is kept): made by the error handlers.
                idempotency.end_request_transaction()
                response = current_app.make_response(current_app.handle_user_exception(exc))
            except BaseException:
                idempotency.release(taken)
                raise
            return _record(taken, response, stream is not None)

        wrapper._apidoc = {**deepcopy(getattr(func, "_apidoc", {})), "idempotent": True}
        return wrapper

    def _prepare_face_doc(self, doc: dict, doc_info: dict, **_) -> dict:
        """Runs after flask-smorest's own steps, for each operation of the face."""
        manual_doc = doc_info.get("manual_doc", {})
        idempotent = doc_info.get("idempotent", False)
        statuses = self._error_statuses(
            doc, manual_doc, (*doc_info.get("face_errors", ()),
                              *(IDEMPOTENCY_ERRORS if idempotent else ())))
        doc["security"] = SECURITY
        if self.guard is not None:
            doc.setdefault("parameters", []).extend(deepcopy(self.guard.parameters))
        if idempotent:
            # A view's own parameters replace the list: the header goes in theirs then.
            parameters = manual_doc["parameters"] if "parameters" in manual_doc else \
                doc.setdefault("parameters", [])
            parameters.append(deepcopy(IDEMPOTENCY_KEY))
        responses = doc.setdefault("responses", {})
        if doc_info.get("conditional"):
            doc.setdefault("parameters", []).append(dict(IF_NONE_MATCH))
            responses[304] = deepcopy(NOT_MODIFIED)
            success = responses.get(200) or responses["200"]
            success.setdefault("headers", {})["ETag"] = {
                "description": "The representation's tag, for If-None-Match",
                "schema": {"type": "string"}}
        responses.pop(422, None)  # flask-smorest's, which the face may answer as 400
        for status in sorted(statuses):
            responses[status] = _error_response(HTTPStatus(status).phrase,
                                                self.error_format.schema)
        responses[429]["headers"] = deepcopy(RETRY_AFTER)
        for status, description in WEB_SERVER_ERRORS.items():
            responses[status] = _error_response(description, ErrorSchema)
        responses["default"] = _error_response(DEFAULT_DESCRIPTION, self.error_format.schema)
        if idempotent:
            # A response the view documents by hand (an event stream) gets the header
            # too: flask-smorest merges the view's own over this one.
            for status in [*responses, *manual_doc.get("responses", {})]:
                if _replayable(status):
                    responses.setdefault(status, {}).setdefault("headers", {}).update(
                        deepcopy(REPLAYED))
        return doc

    def _error_statuses(self, doc: dict, manual_doc: dict, declared) -> set[int]:
        """What the operation can answer, from what it reads (`doc` as flask-smorest
        made it from @arguments, before the guard's parameters are added)."""
        statuses = {*ALWAYS, *declared}
        if self.guard is not None:
            statuses.update(self.guard.errors)
        if "requestBody" in doc or "requestBody" in manual_doc:
            statuses.update(BODY_ERRORS)
        if any(parameter.get("in") == "query" for parameter in doc.get("parameters", [])):
            statuses.update(QUERY_ERRORS)
        return {self.error_format.status_of(status) for status in statuses}


def _fingerprint() -> str:
    """The request's fingerprint: what a retry must repeat to be the same request."""
    content_type, body = idempotency.canonical_content(
        request.mimetype, request.mimetype_params, request.get_data(cache=True))
    return idempotency.fingerprint(request.method, request.path,
                                   list(request.args.items(multi=True)), content_type, body)


def _record(taken: idempotency.Hold, response: Response, streams: bool) -> Response:
    """Record the answer under the key, if it is kept; else release the key."""
    if not idempotency.keeps(response.status_code):
        idempotency.release(taken)
        return response
    body, task_id = None, None
    if response.is_streamed:
        task_id = response.headers.get(TASK_HEADER)
        if task_id is None or not streams:
            # A stream cannot be recorded, only the task it relays, with a way to relay it.
            log.error("%s %s streamed an answer without X-Task-Id or @blp.idempotent's "
                      "stream: its Idempotency-Key is released", request.method, request.path)
            idempotency.release(taken)
            return response
    else:
        body = response.get_data()
    headers = {name: response.headers[name] for name in REPLAYED_HEADERS
               if name in response.headers}
    idempotency.complete(taken, idempotency.Answer(response.status_code, headers, body,
                                                   task_id))
    return response


def _replay(answer: idempotency.Answer, stream, view_args: dict) -> Response:
    if answer.task_id is not None and stream is not None:
        response = stream(answer.task_id, **view_args)
    else:
        response = Response(answer.body or b"", status=answer.status, headers=answer.headers)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _replayable(status) -> bool:
    """Whether the answer with this status may be a replay (documented so)."""
    if not str(status).isdigit():
        return False
    status = int(status)
    return 200 <= status < 300 or (400 <= status and idempotency.keeps(status)
                                   and status not in NOT_REPLAYED)


def _error_response(description: str, schema: type[Schema]) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": schema}}}
