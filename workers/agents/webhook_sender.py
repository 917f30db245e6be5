"""Sends one webhook message (task kind `webhook`): signs it as Standard Webhooks says,
with the `standardwebhooks` package, and posts it. Plain data in and out, no database.

The target is checked again now, as the web side checked it when it was given (names
may resolve elsewhere by now), and the connection goes to the very address that was
checked: the URL's host is replaced by it, the Host header and TLS's server name (SNI,
and so the certificate's check) stay the name's. No redirect is followed and no proxy
from the environment is used; connections are not kept for reuse, since one made for a
name must not carry another name's request to the same address.

Answers: 2xx is a success; anything else, a timeout or a connection that fails is a
DeliveryError (retried); a target now refused, or an endpoint disabled or deleted, is a
PermanentError (the delivery fails at once).
"""

import threading
from datetime import datetime, timezone

import httpx
from standardwebhooks import Webhook

from app.services import webhook_targets
from app.services.agent_io import DeliveryError, DeliveryInput, DeliveryResult, PermanentError

USER_AGENT = "Parley-Webhooks/1"
# How much of a refusing answer's body its error quotes.
BODY_EXCERPT = 200

_client: list[httpx.Client] = []
_making = threading.Lock()


def client() -> httpx.Client:
    """One client per process, shared by its threads."""
    if not _client:
        with _making:
            if not _client:
                _client.append(httpx.Client(
                    trust_env=False, follow_redirects=False,
                    limits=httpx.Limits(max_connections=None, max_keepalive_connections=0)))
    return _client[0]


def signed_headers(secret: str, message_id: str, moment: datetime, payload: str) -> dict:
    """The Standard Webhooks headers of one attempt: its id, its time (whole seconds)
    and the signature of both with the body."""
    return {"webhook-id": message_id, "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, moment, payload)}


def deliver(work: DeliveryInput, provider=None, max_tokens=None, on_text=None,
            on_event=None) -> DeliveryResult:
    if work.refused:
        raise PermanentError(f"not sent: {work.refused}")
    try:
        target = webhook_targets.check(work.url, work.allow_private)
    except webhook_targets.Unresolvable as exc:
        raise DeliveryError(str(exc)) from None
    except webhook_targets.RefusedTarget as exc:
        raise PermanentError(f"not sent: {exc}") from None
    headers = {**signed_headers(work.secret, work.message_id, datetime.now(timezone.utc),
                                work.payload),
               "content-type": "application/json", "user-agent": USER_AGENT,
               "host": target.host_header}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with client().stream("POST", target.url_at(target.addresses[0]),
                             content=work.payload.encode(), headers=headers,
                             timeout=work.timeout, extensions=extensions) as answer:
            excerpt = _excerpt(answer)
    except httpx.TimeoutException:
        raise DeliveryError(f"no answer within {work.timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"connection failed: {type(exc).__name__}: {exc}") from None
    if 200 <= answer.status_code < 300:
        return DeliveryResult(answer.status_code)
    raise DeliveryError(f"answered {answer.status_code}" + (f": {excerpt}" if excerpt else ""),
                        status_code=answer.status_code,
                        retry_after=_retry_after(answer.headers.get("retry-after")))


def _excerpt(answer: httpx.Response) -> str:
    """The start of the answer's body, read no further."""
    read = b""
    for chunk in answer.iter_bytes():
        read += chunk
        if len(read) >= BODY_EXCERPT:
            break
    return read[:BODY_EXCERPT].decode("utf-8", "replace").strip()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None  # an HTTP date: the schedule's wait is used
