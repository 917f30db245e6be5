"""Logs: one line per record, and on each line the context it was written in, so that
one request can be followed from the web process into the worker running its task.

Two formats (PARLEY_LOG_FORMAT; unset: text when stderr is a terminal, json otherwise):
- text, for a person: `INFO:app.services.tasks:[req_1 task=… kind=reply] message`;
- json, for a log pipeline: one JSON object per line (python-json-logger) with `time`,
  `level`, `logger`, `message`, then the context fields that are known.

The context (CONTEXT_FIELDS) lives in a context variable: the web process binds the
request id for the request it serves (app/request_ids.py); a worker binds the task's
id, kind and request id (from the message's headers) while it runs it, and the
lifecycle adds the organization and attempt once it has claimed it. A filter on the
handlers copies it onto every record. Each process configures its logging here: the web
processes (create_app, and gunicorn's own loggers: app/gunicorn_conf.py), Celery's
workers and beat (workers/celery_app.py).

Logs never carry what users wrote or keys: log ids, counts and the kinds of errors.
"""

import contextvars
import logging
import sys
from collections.abc import Iterable
from datetime import datetime, timezone

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

JSON, TEXT = "json", "text"
FORMATS = (JSON, TEXT)
CONTEXT_FIELDS = ("request_id", "org_id", "task_id", "task_kind", "attempt")
# How the text format shows each field, after the request id.
_TEXT_LABELS = {"task_id": "task", "task_kind": "kind", "attempt": "attempt", "org_id": "org"}
TEXT_FORMAT = "%(levelname)s:%(name)s:%(context)s%(message)s"

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("parley_log_context",
                                                                default={})


def bind(**fields) -> None:
    """Add fields (CONTEXT_FIELDS; None leaves a field out) to the context of what this
    thread is doing, for every log line it writes from now on."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"not log context fields: {sorted(unknown)}")
    known = {name: value for name, value in fields.items() if value is not None}
    _context.set({**_context.get(), **known})


def clear() -> None:
    """The thread's work is done: its next lines have no context until it binds one."""
    _context.set({})


def context() -> dict:
    """The fields bound so far (a copy)."""
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record; a field the call passed itself
    (`extra=`) is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """The text format: the context as a bracketed prefix ("[req_1 task=… kind=…] ")."""

    def __init__(self, fmt: str = TEXT_FORMAT):
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        record.context = _text_context(record)
        return super().format(record)


def _text_context(record: logging.LogRecord) -> str:
    parts = [getattr(record, "request_id", None) or ""]
    parts += [f"{label}={getattr(record, name)}" for name, label in _TEXT_LABELS.items()
              if getattr(record, name, None) is not None]
    shown = " ".join(part for part in parts if part)
    return f"[{shown}] " if shown else ""


class JsonLineFormatter(JsonFormatter):
    """The json format: `time` (ISO 8601, UTC, milliseconds), `level`, `logger`,
    `message`, the context fields known, and `exc_info` with a traceback."""

    def __init__(self):
        super().__init__("{levelname}{name}{message}", style="{",
                         rename_fields={"levelname": "level", "name": "logger"},
                         # Celery's lines repeat their values (a task's arguments and
                         # return value among them) in a `data` extra: the message says it.
                         reserved_attrs=[*RESERVED_ATTRS, "data", "context"])

    def add_fields(self, log_data, record, message_dict) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, timezone.utc).isoformat(
            timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)


def chosen_format(setting: str | None, stream=None) -> str:
    """The format PARLEY_LOG_FORMAT names, or by default text for a terminal (`stream`,
    stderr), json otherwise."""
    if setting:
        chosen = setting.strip().lower()
        if chosen not in FORMATS:
            raise ValueError(f"PARLEY_LOG_FORMAT must be one of {', '.join(FORMATS)}, "
                             f"not {setting!r}")
        return chosen
    stream = sys.stderr if stream is None else stream
    return TEXT if getattr(stream, "isatty", lambda: False)() else JSON


def formatter(log_format: str) -> logging.Formatter:
    return JsonLineFormatter() if log_format == JSON else TextFormatter()


def adopt(handlers: Iterable[logging.Handler], log_format: str | None = None) -> None:
    """Give handlers the context filter and, with a format, its formatter: another
    library's handlers (gunicorn's) writing Parley's lines."""
    for handler in handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
        if log_format is not None:
            handler.setFormatter(formatter(log_format))


def configure(setting: str | None, level: int | str = logging.INFO,
              logfile: str | None = None) -> str:
    """Set up the root logger for this process, once (again: its level and file change):
    a handler writing to stderr (or `logfile`) in the chosen format. Returns the format.

    Where the root logger already has handlers of someone else's (a test runner's),
    they are left as they are and given the context filter only."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "parley", False)]
    log_format = chosen_format(setting)
    if not ours and root.handlers:
        adopt(root.handlers)
        return log_format
    for handler in ours:
        root.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
    handler.parley = True
    adopt([handler], log_format)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # a warning is a line in the format too, not raw text
    return log_format
