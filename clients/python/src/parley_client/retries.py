"""When to send a request again, and how long to wait first.

A request is sent again only when repeating it cannot do anything twice: a GET, or a
POST carrying an ``Idempotency-Key`` (the server answers a repeat with the first
answer instead of creating again). It is repeated after

- 429 with ``Retry-After`` (a rate limit: the window ends then). A 429 without it, or
  with a wait longer than ``max_retry_after`` (a monthly session cap answers with the
  seconds to next month), is raised at once: waiting would not help, or not soon;
- 503 (the server's database unreachable, a restart): after ``Retry-After`` when given,
  else an exponential backoff;
- 409 on a keyed POST sent again after its answer was lost: the first try may still
  be being handled (``idempotency_key_in_use``; the polling face's body names no code,
  but a fresh key can only be in use by this client's own earlier try); its answer
  comes on a later try. The face's code ``idempotency_key_in_use`` counts too;
- no answer (a connection refused, dropped or timed out), after a backoff.

Backoff is exponential with full jitter (AWS's "Exponential Backoff and Jitter"), so
many clients refused at once do not come back at once; a Retry-After is waited out in
full, with half a second to a second (and up to 10 % of a long wait) on top.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field

import httpx

RETRYABLE_STATUSES = frozenset({429, 503})
IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_IN_USE_CODES = frozenset({"idempotency_key_in_use", "IDEMPOTENCY_KEY_IN_USE"})


@dataclass
class RetryPolicy:
    """``max_attempts``: tries in all (1: never retry); the backoff of try n (from 1)
    is drawn from [0, min(backoff_max, backoff_base * 2**(n-1))]."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return self.rng.uniform(0.0, ceiling)

    def poll_delay(self, polls: int, base: float = 0.25, cap: float = 5.0) -> float:
        """The pause after the `polls`-th status read that found the task unchanged:
        doubling from `base` up to `cap`, half of it drawn at random ("equal jitter",
        so a poller never spins, and many never poll in step)."""
        ceiling = min(cap, base * 2.0 ** max(0, polls - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def honour(self, retry_after: float) -> float:
        """The server's wait, and a little more. Retry-After counts whole seconds, and
        servers round down (Flask-Limiter's "0" means "within the second"): so half a
        second to a second more, plus up to 10 % of a long wait, drawn at random so
        that clients refused together do not return together."""
        return retry_after + self.rng.uniform(0.5, 1.0 + retry_after * 0.1)


def is_repeatable(request: httpx.Request) -> bool:
    """Safe to send twice: a GET (or HEAD), or a request with an Idempotency-Key."""
    return request.method in ("GET", "HEAD") or IDEMPOTENCY_HEADER in request.headers


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds, or an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def delay_before_retry(policy: RetryPolicy, response: httpx.Response, attempt: int,
                       error_code: str | None = None, answer_lost: bool = False
                       ) -> float | None:
    """How long to wait before trying `response`'s request again after try `attempt`
    (`answer_lost`: an earlier try got no answer); None when it must not be tried
    again."""
    if attempt >= policy.max_attempts or not is_repeatable(response.request):
        return None
    status = response.status_code
    if status == 409:
        keyed = IDEMPOTENCY_HEADER in response.request.headers
        in_use = error_code in KEY_IN_USE_CODES or answer_lost
        return policy.backoff(attempt) if keyed and in_use else None
    if status not in RETRYABLE_STATUSES:
        return None
    retry_after = retry_after_seconds(response)
    if retry_after is None:
        return None if status == 429 else policy.backoff(attempt)
    if retry_after > policy.max_retry_after:
        return None
    return policy.honour(retry_after)


def delay_after_no_answer(policy: RetryPolicy, request: httpx.Request,
                          attempt: int) -> float | None:
    """How long to wait before sending a request that got no answer again; None when
    it must not be sent again."""
    if attempt >= policy.max_attempts or not is_repeatable(request):
        return None
    return policy.backoff(attempt)
