"""One connection to a Parley server: authentication, retries (retries.py) and typed
errors (errors.py) for every request the client sends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from parley_client._version import __version__
from parley_client.errors import ConnectionFailed, ParleyError, error_from_response
from parley_client.retries import (RetryPolicy, delay_after_no_answer, delay_before_retry,
                                   retry_after_seconds)

log = logging.getLogger("parley_client")

# No answer, but the server may answer a repeat: worth another try when it is safe.
TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class Connection:
    """Sends requests to one server with one credential, over one pool of connections
    (`transport`: httpx's own unless given, e.g. an httpx.MockTransport in tests)."""

    def __init__(self, base_url: str, api_key: str, timeout: float,
                 retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        # Every pause and every deadline goes through these two: tests replace them.
        self.sleep = sleep
        self.clock = clock
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/", timeout=timeout, transport=transport,
            headers={"Authorization": f"Bearer {api_key}",
                     "User-Agent": f"parley-client/{__version__} httpx/{httpx.__version__}"})

    def close(self) -> None:
        self.http.close()

    def build(self, method: str, path: str, *, json: Any = None,
              params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
              timeout: float | None = None) -> httpx.Request:
        params = {name: value for name, value in (params or {}).items() if value is not None}
        extensions = {}
        if timeout is not None:
            extensions["timeout"] = httpx.Timeout(timeout).as_dict()
        return self.http.build_request(method, path.lstrip("/"), json=json, params=params,
                                       headers=headers, extensions=extensions)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer to one request (2xx or 304), read whole; an error answer raised as
        its ParleyError, once the retries it is allowed are spent."""
        return self.send(self.build(method, path, **kwargs))

    def send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        """`request`'s successful answer; with `stream`, its body not read yet (close
        it). Repeats the request as retries.py allows."""
        attempt, answer_lost = 0, False
        while True:
            attempt += 1
            try:
                response = self.http.send(request, stream=stream)
            except TRANSIENT as exc:
                delay = delay_after_no_answer(self.retry, request, attempt)
                if delay is None:
                    raise ConnectionFailed(f"{request.method} {request.url.path}: no answer "
                                           f"({type(exc).__name__}: {exc})") from exc
                self._pause(request, f"no answer ({type(exc).__name__})", delay, attempt)
                answer_lost = True
                continue
            except httpx.HTTPError as exc:
                raise ConnectionFailed(f"{request.method} {request.url.path}: {exc}") from exc
            if response.is_success or response.status_code == 304:
                return response
            error = self._error(response)
            delay = delay_before_retry(self.retry, response, attempt, error.code, answer_lost)
            if delay is None:
                raise error
            self._pause(request, f"{response.status_code} {error.code}", delay, attempt)

    def _error(self, response: httpx.Response) -> ParleyError:
        try:
            response.read()
        finally:
            response.close()
        return error_from_response(response, retry_after_seconds(response))

    def _pause(self, request: httpx.Request, why: str, delay: float, attempt: int) -> None:
        log.info("%s %s: %s; trying again in %.2f s (attempt %d of %d)", request.method,
                 request.url.path, why, delay, attempt + 1, self.retry.max_attempts)
        self.sleep(delay)
