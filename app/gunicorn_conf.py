"""gunicorn's settings for Parley's web process, the one place for every way it runs
(Procfile, docker-compose.yml, the Dockerfile, `parley up`):

    gunicorn -c python:app.gunicorn_conf app.wsgi:app

Errors gunicorn answers itself, before the app sees the request (a request line or a
header over the limits below, a malformed request), are JSON in the app's common error
body, {"code", "status", "message"}, instead of gunicorn's HTML page: a client of a JSON
API parses every answer it gets.

Read by gunicorn's master process at start; its workers inherit the settings.
"""

import json
import os

from gunicorn import glogging, util

from app import logs
from app.config import Config

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# A thread per open event stream (SSE): each process holds this many at once.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("PARLEY_WEB_THREADS", "300"))
# Open streams are cut at a restart; their clients resume with Last-Event-ID.
graceful_timeout = 10

# gunicorn's own limits, kept (they bound what one request may hold in memory) and said
# here so the README can quote them. The app's longest URL (a dialogue listing with
# every filter and a cursor) stays far below the request line's.
limit_request_line = 4094  # bytes of "METHOD /path?query HTTP/1.1": over → 414
limit_request_fields = 100  # headers: more → 431
limit_request_field_size = 8190  # bytes of one header: over → 431

# The access log (when asked for: --access-logfile) names each request's id, the one the
# app's and the worker's lines for it carry (gunicorn's default format, and the id).
access_log_format = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
                     '%({x-request-id}o)s')


class Logger(glogging.Logger):
    """gunicorn's own lines (its error log, its access log) as JSON objects too when the
    app's are (PARLEY_LOG_FORMAT, app/logs.py); in text, gunicorn's layout is kept."""

    def setup(self, cfg):
        super().setup(cfg)
        if logs.chosen_format(Config.LOG_FORMAT) == logs.JSON:
            logs.adopt([*self.error_log.handlers, *self.access_log.handlers], logs.JSON)


logger_class = Logger


def child_exit(server, worker) -> None:
    """A web process that exits stops counting in the open-streams gauge (its file in
    PROMETHEUS_MULTIPROC_DIR is set aside; its counters stay: app/metrics.py)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's util.write_error (same arguments, same connection handling), with a
    JSON body."""
    body = json.dumps({"code": status_int, "status": reason,
                       "message": mesg or reason}).encode("ascii")
    head = (f"HTTP/1.1 {status_int} {reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


# gunicorn has no setting for its error page; every worker writes it through
# util.write_error, so that is the one function to replace. Fail at start, not with
# HTML later, if a gunicorn release moves it.
if not callable(getattr(util, "write_error", None)):
    raise RuntimeError("gunicorn.util.write_error is gone: update app/gunicorn_conf.py")
util.write_error = write_json_error
