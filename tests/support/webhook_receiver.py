"""A webhook receiver on 127.0.0.1 for tests: a threaded HTTP server that records every
POST (path, headers, body) and answers 204, or, told so, answers the next N requests
with an error status first.

    with WebhookReceiver() as receiver:
        receiver.fail_next(2, status=503)
        ... (something delivers to receiver.url + "/hooks")
        [request] = receiver.wait_for(1)
        Webhook(secret).verify(request.body, request.headers)

Standard library only.
"""

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int  # the status it was answered with

    @property
    def text(self) -> str:
        return self.body.decode()


class WebhookReceiver:
    def __init__(self):
        self.requests: list[Received] = []
        self._failures: list[int] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    status = receiver._failures.pop(0) if receiver._failures else 204
                    receiver.requests.append(Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                        status))
                    receiver._lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0" if status == 204 else "9")
                self.end_headers()
                if status != 204:
                    self.wfile.write(b"try later")

            def log_message(self, *_):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` requests with `status`."""
        with self._lock:
            self._failures = [status] * count

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._failures.clear()

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, count: int, path: str | None = None, seconds: float = 30
                 ) -> list[Received]:
        """The requests (to `path`, if given), once there are at least `count`."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while True:
                got = [r for r in self.requests if path is None or r.path == path]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    where = path or "any path"
                    raise AssertionError(f"{len(got)} of {count} requests to {where} "
                                         f"arrived in {seconds:g}s")
                self._lock.wait(left)
