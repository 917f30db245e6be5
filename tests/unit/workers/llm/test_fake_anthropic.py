"""The fake Anthropic server, driven by the real ``anthropic`` SDK (2.12.0, on httpx2).

What a caller sees for each fault (``max_retries=0``; observed and pinned by the tests):

* A stream that is cut mid-way ("cut" while streaming) does NOT raise an anthropic
  exception. Iterating ``stream.text_stream`` (or the events, or a
  ``create(stream=True)`` stream) yields the deltas that arrived, then raises the raw
  transport error ``httpx2.RemoteProtocolError`` ("peer closed connection without
  sending complete message body (incomplete chunked read)"). It is an
  ``httpx2.TransportError`` / ``httpx2.HTTPError``, not an ``anthropic.APIError``,
  and the SDK does not retry it, because the response had already begun.
  After that, ``stream.get_final_message()`` does not raise: it returns the partial
  message, ``stop_reason`` None, with the text received so far. Called first, without
  iterating, ``get_final_message()`` raises the same ``httpx2.RemoteProtocolError``.
  A provider must therefore catch ``httpx2.HTTPError`` around stream iteration, or
  check ``stop_reason is None``, to detect a truncated answer.
  (A read timeout in the middle of a stream behaves the same way and raises the raw
  ``httpx2.ReadTimeout``.)
* A cut non-streaming answer (body shorter than its Content-Length) raises
  ``anthropic.APIConnectionError`` (``__cause__``: httpx2.RemoteProtocolError).
* 529 raises ``anthropic.OverloadedError``, a subclass of ``InternalServerError`` and
  ``APIStatusError``, with status_code 529. 503 raises ``ServiceUnavailableError``
  (also an ``InternalServerError``). 500 raises plain ``InternalServerError``.
* 429 raises ``RateLimitError`` (the ``retry-after`` header is on ``exc.response``),
  400 ``BadRequestError``, 401 ``AuthenticationError``.
* "timeout" (the server says nothing for longer than the client's timeout) raises
  ``anthropic.APITimeoutError``, a subclass of ``APIConnectionError``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import anthropic
import httpx2
import pytest

from tests.support.fake_anthropic import FakeAnthropicServer, split_into_chunks

MODEL = "claude-fake-test"
QUESTION = "What does the basic plan cost per month?"
USER_MESSAGES = [{"role": "user", "content": QUESTION}]
EXPECTED_REPLY = f"[fake-claude] I read 1 messages. You asked: {QUESTION}"


@pytest.fixture(autouse=True)
def clean_server(server):
    server.reset()
    yield
    server.reset()


@pytest.fixture(scope="module")
def client(server):
    sdk_client = make_client(server.url, max_retries=0)
    yield sdk_client
    sdk_client.close()


def make_client(url: str, max_retries: int = 0, timeout: float = 5.0) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="test", base_url=url, max_retries=max_retries, timeout=timeout
    )


def ask(client, **overrides):
    arguments = {"model": MODEL, "max_tokens": 100, "messages": USER_MESSAGES, **overrides}
    return client.messages.create(**arguments)


def stream_text(client, **overrides) -> list[str]:
    arguments = {"model": MODEL, "max_tokens": 100, "messages": USER_MESSAGES, **overrides}
    with client.messages.stream(**arguments) as stream:
        return list(stream.text_stream)


def http(server, method: str, path: str, body: object | None = None):
    """Call the server with urllib, as another process would; returns (status, JSON)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# -- replies -------------------------------------------------------------------


def test_create_returns_deterministic_text_and_usage(server, client):
    message = ask(client)

    assert message.content[0].text == EXPECTED_REPLY
    assert message.stop_reason == "end_turn"
    assert message.model == MODEL
    assert message.usage.input_tokens == len(QUESTION.split())
    assert message.usage.output_tokens == len(EXPECTED_REPLY.split())
    assert message._request_id.startswith("req_fake_")
    assert server.requests == [{"model": MODEL, "max_tokens": 100, "messages": USER_MESSAGES}]


def test_reply_reads_content_blocks_and_echoes_sources(client):
    system = [
        {"type": "text", "text": "Answer from the sources.\n[source: Price list]\nBasic: 10 EUR"},
        {"type": "text", "text": "[source: FAQ]\nNone.\n[source: Price list]\nAgain."},
    ]
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "How much"}, {"type": "text", "text": "is it?"}],
        },
    ]

    message = ask(client, system=system, messages=messages)

    assert message.content[0].text == (
        "[fake-claude] I read 3 messages. You asked: How much is it? Sources: Price list, FAQ"
    )
    system_words = sum(len(block["text"].split()) for block in system)
    assert message.usage.input_tokens == system_words + len("Hi Hello! How much is it?".split())


def test_configured_reply_replaces_the_deterministic_text(server, client):
    server.configure(reply="Fixed answer.")
    assert ask(client).content[0].text == "Fixed answer."


def test_invalid_body_is_a_400_in_anthropic_shape(server, client):
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(client, messages=[])

    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "messages" in caught.value.body["error"]["message"]
    assert caught.value.response.headers["request-id"].startswith("req_fake_")
    assert server.requests[0]["messages"] == []  # recorded even though refused


def test_unknown_path_is_a_404_in_anthropic_shape(server):
    status, body = http(server, "GET", "/v1/models")

    assert status == 404
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"


# -- streaming -----------------------------------------------------------------


def test_stream_yields_chunks_that_join_to_the_reply(client):
    arguments = {"model": MODEL, "max_tokens": 100, "messages": USER_MESSAGES}
    with client.messages.stream(**arguments) as stream:
        chunks = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(chunks) > 2
    assert "".join(chunks) == EXPECTED_REPLY
    assert final.content[0].text == EXPECTED_REPLY
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == len(QUESTION.split())
    assert final.usage.output_tokens == len(EXPECTED_REPLY.split())


def test_chunks_keep_whitespace_exactly():
    text = "  two  spaces\tand a tab\nand a newline  "
    chunks = split_into_chunks(text, words_per_chunk=2)

    assert "".join(chunks) == text
    assert len(chunks) == 4


def test_chunk_delay_delivers_the_first_chunk_before_the_end(server, client):
    server.configure(chunk_delay=0.05)
    arguments = {"model": MODEL, "max_tokens": 100, "messages": USER_MESSAGES}
    started = time.monotonic()
    with client.messages.stream(**arguments) as stream:
        first_chunk_at = None
        for _ in stream.text_stream:
            first_chunk_at = first_chunk_at or time.monotonic()
        finished_at = time.monotonic()

    chunk_count = len(split_into_chunks(EXPECTED_REPLY))
    assert first_chunk_at - started < finished_at - started
    # Most of the delays between chunks happen after the first chunk is delivered (half
    # of them at least: on a loaded machine the first chunk can arrive late).
    assert finished_at - first_chunk_at >= 0.05 * (chunk_count - 1) * 0.5


# -- faults --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "exception_class", "error_type"),
    [
        ("429", anthropic.RateLimitError, "rate_limit_error"),
        ("500", anthropic.InternalServerError, "api_error"),
        ("503", anthropic.ServiceUnavailableError, "api_error"),
        ("529", anthropic.OverloadedError, "overloaded_error"),
        ("400", anthropic.BadRequestError, "invalid_request_error"),
        ("401", anthropic.AuthenticationError, "authentication_error"),
    ],
)
def test_status_faults_raise_the_matching_sdk_error(
    server, client, fault, exception_class, error_type
):
    server.configure(faults=[fault])

    with pytest.raises(anthropic.APIStatusError) as caught:
        ask(client)

    assert type(caught.value) is exception_class
    assert caught.value.status_code == int(fault)
    assert caught.value.body["error"]["type"] == error_type
    assert len(server.requests) == 1  # faulted requests are recorded too


def test_529_is_an_overloaded_error_and_an_internal_server_error(server, client):
    server.configure(faults=["529"])

    with pytest.raises(anthropic.OverloadedError) as caught:
        ask(client)

    assert isinstance(caught.value, anthropic.InternalServerError)
    assert caught.value.status_code == 529


def test_429_carries_retry_after(server, client):
    server.configure(faults=["429"], retry_after=7)

    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(client)

    assert caught.value.response.headers["retry-after"] == "7"


def test_status_fault_on_a_stream_raises_when_the_stream_opens(server, client):
    server.configure(faults=["529"])

    with pytest.raises(anthropic.OverloadedError):
        stream_text(client)


def test_timeout_fault_raises_api_timeout_error(server, client):
    server.configure(faults=["timeout"], timeout_sleep=2)
    started = time.monotonic()

    with pytest.raises(anthropic.APITimeoutError):
        ask(client.with_options(timeout=0.5))

    assert time.monotonic() - started < 1.5


def test_cut_stream_raises_a_raw_httpx_error_and_leaves_a_partial_message(server, client):
    server.configure(faults=["cut"])
    arguments = {"model": MODEL, "max_tokens": 100, "messages": USER_MESSAGES}
    received: list[str] = []

    with client.messages.stream(**arguments) as stream:
        with pytest.raises(httpx2.RemoteProtocolError) as caught:
            for text in stream.text_stream:
                received.append(text)
        partial = stream.get_final_message()

    assert not isinstance(caught.value, anthropic.APIError)
    assert 1 <= len(received) <= 2
    assert EXPECTED_REPLY.startswith("".join(received))
    assert partial.stop_reason is None
    assert partial.content[0].text == "".join(received)


def test_cut_stream_raises_from_get_final_message_if_not_iterated(server, client):
    server.configure(faults=["cut"])
    arguments = {"model": MODEL, "max_tokens": 100, "messages": USER_MESSAGES}

    with client.messages.stream(**arguments) as stream:
        with pytest.raises(httpx2.RemoteProtocolError):
            stream.get_final_message()


def test_cut_non_streaming_answer_raises_api_connection_error(server, client):
    server.configure(faults=["cut"])

    with pytest.raises(anthropic.APIConnectionError) as caught:
        ask(client)

    assert type(caught.value) is anthropic.APIConnectionError
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)


def test_fault_share_one_fails_every_call(server, client):
    server.configure(fault_share=1.0, fault_kinds=["500"])

    for _ in range(5):
        with pytest.raises(anthropic.InternalServerError):
            ask(client)
    assert len(server.requests) == 5


def test_fault_list_is_consumed_in_order_then_calls_succeed(server, client):
    server.configure(faults=["429", "500", "529"])

    with pytest.raises(anthropic.RateLimitError):
        ask(client)
    with pytest.raises(anthropic.InternalServerError) as caught:
        ask(client)
    assert caught.value.status_code == 500
    with pytest.raises(anthropic.OverloadedError):
        ask(client)
    assert ask(client).content[0].text == EXPECTED_REPLY


def test_sdk_retries_get_through_the_fault_list(server):
    server.configure(faults=["529", "429"])
    retrying_client = make_client(server.url, max_retries=2)

    assert ask(retrying_client).content[0].text == EXPECTED_REPLY
    assert len(server.requests) == 3


def test_a_seed_makes_random_faults_repeatable(server, client):
    def outcomes() -> list[str]:
        server.configure(fault_share=0.5, fault_kinds=["500", "529"], seed=1234)
        results = []
        for _ in range(12):
            try:
                ask(client)
                results.append("ok")
            except anthropic.APIStatusError as error:
                results.append(str(error.status_code))
        return results

    first = outcomes()
    assert outcomes() == first
    assert "ok" in first and len(set(first)) > 1


def test_configure_rejects_unknown_fault_kinds(server):
    with pytest.raises(ValueError):
        server.configure(faults=["418"])


# -- HTTP controls -------------------------------------------------------------


def test_http_controls_configure_record_and_reset(server, client):
    settings = {"faults": ["500"], "reply": "From control."}
    assert http(server, "POST", "/_control", settings) == (200, {"ok": True})

    with pytest.raises(anthropic.InternalServerError):
        ask(client)
    assert ask(client).content[0].text == "From control."

    status, recorded = http(server, "GET", "/_requests")
    assert status == 200
    assert [body["messages"] for body in recorded] == [USER_MESSAGES, USER_MESSAGES]

    assert http(server, "POST", "/_reset", {}) == (200, {"ok": True})
    assert http(server, "GET", "/_requests") == (200, [])
    assert ask(client).content[0].text == EXPECTED_REPLY


def test_http_control_rejects_bad_settings(server):
    status, body = http(server, "POST", "/_control", {"no_such_setting": 1})

    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"


# -- concurrency and lifecycle -------------------------------------------------


def test_fifty_slow_streams_run_concurrently(server, client):
    server.configure(latency=0.5)
    started = time.monotonic()

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: "".join(stream_text(client)), range(50)))

    assert results == [EXPECTED_REPLY] * 50
    assert time.monotonic() - started < 10
    assert len(server.requests) == 50


def test_stop_closes_pooled_connections():
    fake = FakeAnthropicServer().start()
    own_client = make_client(fake.url, timeout=2.0)
    assert ask(own_client).content[0].text == EXPECTED_REPLY

    fake.stop()

    # The pooled keep-alive connection is closed too, so nothing answers any more.
    with pytest.raises(anthropic.APIConnectionError):
        ask(own_client)
