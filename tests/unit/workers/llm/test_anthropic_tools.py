"""Tool use through the anthropic provider (workers/llm/anthropic.py), the real SDK
streaming against the fake Messages API (tests/support/fake_anthropic.py) over HTTP:
text first, then each tool call, its input joined from input_json_delta fragments, as
the briefing agent's update_briefing tool is called. And the fake's scripting of it."""

import json
import logging

import anthropic
import httpx2
import pytest

from app.services.agent_io import ToolCall, TransientError
from tests.support.fake_anthropic import input_tokens
from workers.llm.anthropic import AnthropicProvider
from workers.llm.base import LLMRequest
from workers.llm.offline import OfflineProvider

MODEL = "claude-test"
TOOL = {
    "name": "update_briefing",
    "description": "Set fields of the user's briefing.",
    "input_schema": {"type": "object", "properties": {"domain": {"type": "string"}}},
}
OTHER_TOOL = {"name": "other_tool", "input_schema": {"type": "object"}}
QUESTION_TEXT = "Noted. Which tone should the text take, formal or friendly?"
# Nested values and escapes, so fragments end in the middle of strings and escapes.
BRIEFING_INPUT = {
    "domain": "legal",
    "source_lang": "de",
    "text": "Grüße, \"Vertrag\" \\ Anhang",
    "input_material": {"facts": ["99.9 percent uptime", "24/7 support"]},
}
SECOND_INPUT = {"tone": "formal"}


@pytest.fixture(autouse=True)
def clean_server(server):
    server.reset()
    yield
    server.reset()


@pytest.fixture
def provider(server):
    return AnthropicProvider(api_key="test", base_url=server.url, model=MODEL, timeout=2.0)


def tool_request(**overrides) -> LLMRequest:
    arguments = {"system": "You set up briefings.", "max_tokens": 200, "tools": [TOOL],
                 "messages": [{"role": "user", "content": "A legal text, from German."}]}
    return LLMRequest(**{**arguments, **overrides})


def generate(provider, request=None):
    """Generate, recording every callback in the order it came: (kind, value)."""
    seen = []
    result = provider.generate(request or tool_request(),
                               on_text=lambda chunk: seen.append(("text", chunk)),
                               on_tool=lambda call: seen.append(("tool", call)))
    return result, seen


def sent_stream_events(server, body: dict) -> list[dict]:
    """The SSE events the fake sends for this body, read raw (no SDK in between)."""
    with httpx2.stream("POST", server.url + "/v1/messages", json={**body, "stream": True},
                       timeout=5) as response:
        return [json.loads(line[len("data: "):]) for line in response.iter_lines()
                if line.startswith("data: ")]


# -- the provider ------------------------------------------------------------


def test_text_streams_in_order_before_the_tool_call(provider, server):
    server.configure(tool_inputs=[BRIEFING_INPUT], tool_text=QUESTION_TEXT)

    _, seen = generate(provider)

    kinds = [kind for kind, _ in seen]
    assert kinds == ["text"] * (len(kinds) - 1) + ["tool"]
    assert len(kinds) > 2  # the text came in several chunks
    assert "".join(chunk for kind, chunk in seen if kind == "text") == QUESTION_TEXT


def test_on_tool_receives_the_whole_parsed_input(provider, server):
    server.configure(tool_inputs=[BRIEFING_INPUT])

    _, seen = generate(provider)

    calls = [value for kind, value in seen if kind == "tool"]
    assert calls == [ToolCall(name="update_briefing", input=BRIEFING_INPUT)]


def test_the_fake_streams_the_input_in_several_json_deltas(server):
    server.configure(tool_inputs=[BRIEFING_INPUT])
    body = {"model": MODEL, "max_tokens": 100, "tools": [TOOL],
            "messages": [{"role": "user", "content": "Hello"}]}

    events = sent_stream_events(server, body)

    fragments = [e["delta"]["partial_json"] for e in events
                 if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"]
    assert len(fragments) > 5
    assert json.loads("".join(fragments)) == BRIEFING_INPUT
    block = next(e["content_block"] for e in events
                 if e["type"] == "content_block_start" and e["index"] == 1)
    assert (block["type"], block["name"], block["input"]) == ("tool_use", "update_briefing", {})
    assert block["id"].startswith("toolu_fake_")
    assert [e["delta"]["stop_reason"] for e in events if e["type"] == "message_delta"] \
        == ["tool_use"]


def test_result_holds_the_text_the_tool_calls_and_the_usage(provider, server):
    server.configure(tool_inputs=[BRIEFING_INPUT], tool_text=QUESTION_TEXT)

    result, _ = generate(provider)

    assert result.text == QUESTION_TEXT
    assert result.tool_calls == (ToolCall("update_briefing", BRIEFING_INPUT),)
    assert result.model == MODEL
    assert result.input_tokens == input_tokens(server.requests[-1])
    # The fake counts words of the text and of the tool input's JSON text.
    assert result.output_tokens == len(QUESTION_TEXT.split()) \
        + len(json.dumps(BRIEFING_INPUT).split())


def test_the_request_carries_the_tools_and_the_tool_choice(provider, server):
    server.configure(tool_inputs=[SECOND_INPUT])
    choice = {"type": "tool", "name": OTHER_TOOL["name"]}

    result, _ = generate(provider, tool_request(tools=[TOOL, OTHER_TOOL], tool_choice=choice))

    assert server.requests[-1]["tools"] == [TOOL, OTHER_TOOL]
    assert server.requests[-1]["tool_choice"] == choice
    assert result.tool_calls == (ToolCall(OTHER_TOOL["name"], SECOND_INPUT),)


def test_a_request_without_tools_sends_neither_tools_nor_tool_choice(provider, server):
    server.configure(tool_inputs=[BRIEFING_INPUT])

    result, _ = generate(provider, tool_request(tools=[]))

    assert "tools" not in server.requests[-1]
    assert "tool_choice" not in server.requests[-1]
    assert result.tool_calls == ()


def test_no_scripted_input_gives_no_tool_call(provider, server):
    result, seen = generate(provider)

    assert result.tool_calls == ()
    assert [kind for kind, _ in seen if kind == "tool"] == []
    assert result.text.startswith("[fake-claude]")


def test_scripted_inputs_are_consumed_in_order_across_calls(provider, server):
    server.configure(tool_inputs=[BRIEFING_INPUT, SECOND_INPUT])

    turns = [generate(provider)[0].tool_calls for _ in range(3)]

    assert turns == [(ToolCall("update_briefing", BRIEFING_INPUT),),
                     (ToolCall("update_briefing", SECOND_INPUT),),
                     ()]


def test_a_reply_may_call_the_tool_without_any_text(provider, server):
    server.configure(tool_inputs=[SECOND_INPUT], tool_text="")

    result, seen = generate(provider)

    assert result.text == ""
    assert seen == [("tool", ToolCall("update_briefing", SECOND_INPUT))]


def test_a_stream_cut_in_the_tool_input_is_transient_and_calls_no_tool(provider, server):
    server.configure(tool_inputs=[BRIEFING_INPUT], faults=["cut"])
    seen = []

    with pytest.raises(TransientError):
        provider.generate(tool_request(), on_tool=seen.append)

    assert seen == []
    # The failed call left its input for the retry, which gets the same turn.
    assert provider.generate(tool_request()).tool_calls \
        == (ToolCall("update_briefing", BRIEFING_INPUT),)


def test_a_malformed_tool_input_is_dropped_without_failing_the_turn(provider, server, caplog):
    server.configure(tool_inputs=['{"domain": "legal", "tone": '], tool_text=QUESTION_TEXT)

    with caplog.at_level(logging.WARNING, logger="workers.llm.anthropic"):
        result, seen = generate(provider)

    assert result.text == QUESTION_TEXT
    assert result.tool_calls == ()
    assert [kind for kind, _ in seen if kind == "tool"] == []
    assert any("update_briefing" in record.getMessage() for record in caplog.records)


def test_a_tool_input_that_is_not_an_object_is_dropped(provider, server):
    server.configure(tool_inputs=['["legal"]'])

    assert generate(provider)[0].tool_calls == ()


# -- the fake's other faces --------------------------------------------------


def test_http_control_scripts_tool_inputs(provider, server):
    control = httpx2.post(server.url + "/_control", timeout=5,
                          json={"tool_inputs": [SECOND_INPUT], "tool_text": "Which tone?"})
    assert (control.status_code, control.json()) == (200, {"ok": True})

    result, _ = generate(provider)

    assert (result.text, result.tool_calls) == ("Which tone?",
                                                (ToolCall("update_briefing", SECOND_INPUT),))


def test_http_control_rejects_tool_inputs_that_are_not_objects(server):
    control = httpx2.post(server.url + "/_control", json={"tool_inputs": [1]}, timeout=5)

    assert control.status_code == 400


def test_a_non_streaming_reply_holds_the_text_and_the_tool_use_block(server):
    server.configure(tool_inputs=[BRIEFING_INPUT], tool_text=QUESTION_TEXT)
    client = anthropic.Anthropic(api_key="test", base_url=server.url, max_retries=0)

    message = client.messages.create(model=MODEL, max_tokens=100, tools=[TOOL],
                                     messages=[{"role": "user", "content": "Hello"}])

    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[0].text == QUESTION_TEXT
    assert (message.content[1].name, message.content[1].input) == ("update_briefing",
                                                                   BRIEFING_INPUT)
    client.close()


def test_the_offline_provider_takes_on_tool_and_never_calls_it():
    seen = []
    request = LLMRequest(system="", messages=[{"role": "user", "content": "Hi"}],
                         question="Which tone?", kind="recite", tools=[TOOL])

    result = OfflineProvider().generate(request, on_text=lambda chunk: None,
                                        on_tool=seen.append)

    assert (result.text, result.tool_calls, seen) == ("Which tone?", (), [])
