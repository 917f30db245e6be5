"""The anthropic provider (workers/llm/anthropic.py) on its own, against the fake Messages
API (tests/support/fake_anthropic.py): its reply, model and usage, streamed in chunks,
and the faults it raises as transient (retried) or permanent."""

import pytest

from tests.support.data import SLA_QUESTION
from tests.support.fake_anthropic import input_tokens
from app.services.agent_io import PermanentError, TransientError
from workers.llm.anthropic import AnthropicProvider
from workers.llm.base import LLMRequest

QUESTION = SLA_QUESTION
MODEL = "claude-test"
REPLY = "Yes: FiberUP Business Duplex includes an SLA with 99.9 percent uptime and more words."


@pytest.fixture
def provider(server):
    server.reset()
    yield AnthropicProvider(api_key="test", base_url=server.url, model=MODEL, timeout=2.0)
    server.reset()


def simple_request(question=QUESTION) -> LLMRequest:
    return LLMRequest(system="Answer briefly.", messages=[{"role": "user", "content": question}],
                      max_tokens=100)


def test_provider_returns_text_model_and_usage(provider, server):
    server.configure(reply=REPLY)

    result = provider.generate(simple_request())

    assert result.text == REPLY
    assert result.model == MODEL
    assert result.input_tokens == input_tokens(server.requests[-1])
    assert result.output_tokens == len(REPLY.split())


def test_provider_streams_chunks_that_join_to_the_text(provider, server):
    server.configure(reply=REPLY)
    chunks = []

    result = provider.generate(simple_request(), on_text=chunks.append)

    assert len(chunks) > 1
    assert "".join(chunks) == result.text


def test_provider_streams_the_request(provider, server):
    provider.generate(simple_request())

    assert server.requests[-1]["stream"] is True
    assert server.requests[-1]["model"] == MODEL


@pytest.mark.parametrize("fault, cause", [("429", "rate_limited"), ("500", "server_error"),
                                          ("503", "server_error"), ("529", "server_error"),
                                          ("cut", "cut_stream"), ("timeout", "timeout"),
                                          ("overloaded_in_stream", "server_error")])
def test_provider_raises_transient_error_for_retryable_faults(provider, server, fault, cause):
    server.configure(faults=[fault], timeout_sleep=3)

    with pytest.raises(TransientError) as caught:
        provider.generate(simple_request())

    # What the metrics count it as (parley_model_errors_total).
    assert (caught.value.cause, caught.value.model) == (cause, MODEL)


def test_a_refused_connection_is_transient_and_named_so():
    provider = AnthropicProvider(api_key="test", base_url="http://127.0.0.1:9", model=MODEL,
                                 timeout=2.0)

    with pytest.raises(TransientError) as caught:
        provider.generate(simple_request())

    assert caught.value.cause == "connection"


@pytest.mark.parametrize("fault", ["400", "401"])
def test_provider_raises_permanent_error_for_bad_requests(provider, server, fault):
    server.configure(faults=[fault])

    with pytest.raises(PermanentError, match=fault) as caught:
        provider.generate(simple_request())

    assert (caught.value.cause, caught.value.model) == ("client_error", MODEL)


def test_provider_passes_on_retry_after(provider, server):
    server.configure(faults=["429"], retry_after="7")

    with pytest.raises(TransientError) as caught:
        provider.generate(simple_request())

    assert caught.value.retry_after == 7.0
