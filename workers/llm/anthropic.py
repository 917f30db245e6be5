"""Claude through the official SDK, streaming.

The SDK's own retries are off: a transient failure is raised as TransientLLMError and
the Celery task retries with backoff, so a waiting retry holds no worker slot and shows
in Flower. One client per process (see registry.py) pools the connections to the model.
"""

import time

import anthropic
import httpx2

from workers.llm.base import (LLMRequest, LLMResult, OnText, PermanentLLMError,
                              TransientLLMError)

# Statuses worth another try: timeouts, conflicts, rate limits, overload and 5xx.
TRANSIENT_STATUSES = {408, 409, 429}


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, api_key: str | None, base_url: str | None, model: str,
                 timeout: float):
        self.model = model
        # The SDK's timeout bounds each wait for bytes; this bounds the whole call, so
        # a reply that trickles forever still ends well inside the task's deadline.
        self.total_timeout = timeout
        # The SDK's default HTTP client pools up to 1,000 connections, enough for
        # every slot of a worker to have its own.
        self.client = anthropic.Anthropic(api_key=api_key, base_url=base_url,
                                          timeout=timeout, max_retries=0)

    def generate(self, request: LLMRequest, on_text: OnText | None = None) -> LLMResult:
        try:
            return self._stream(request, on_text)
        except anthropic.APIStatusError as exc:
            raise _classify(exc) from exc
        except (anthropic.APIConnectionError, httpx2.TransportError) as exc:
            # Includes timeouts and a connection dropped mid-stream.
            raise TransientLLMError(f"model connection failed: {exc}") from exc

    def _stream(self, request: LLMRequest, on_text: OnText | None) -> LLMResult:
        deadline = time.monotonic() + self.total_timeout
        with self.client.messages.stream(
            model=self.model, max_tokens=request.max_tokens, system=request.system,
            messages=request.messages,
        ) as stream:
            for chunk in stream.text_stream:
                if time.monotonic() > deadline:
                    raise TransientLLMError(
                        f"the model took longer than {self.total_timeout:g}s to answer")
                if on_text:
                    on_text(chunk)
            final = stream.get_final_message()
        if final.stop_reason is None:
            # The stream ended without message_stop: a partial reply is never a reply.
            raise TransientLLMError("the model's stream ended before the reply was complete")
        text = "".join(block.text for block in final.content if block.type == "text")
        return LLMResult(text=text, model=final.model,
                         input_tokens=final.usage.input_tokens,
                         output_tokens=final.usage.output_tokens)


def _classify(exc: anthropic.APIStatusError) -> Exception:
    status = exc.status_code
    message = f"model error {status}: {_error_message(exc)}"
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientLLMError(message, retry_after=_retry_after(exc))
    return PermanentLLMError(message)


def _error_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    return error.get("message") or exc.message


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    try:
        return float(exc.response.headers.get("retry-after"))
    except (TypeError, ValueError):
        return None
