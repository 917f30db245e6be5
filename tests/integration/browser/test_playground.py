"""The playground page (GET /) in a real browser: a headless Chromium driven by
Playwright, against gunicorn and a real Celery worker answering with the offline model,
on PostgreSQL and Redis. What is asserted is what the page shows, and which requests it
made."""

import re

import pytest
import redis

from tests.support.browsers import chromium, expect
from tests.support.data import SLA_DOCUMENT, SLA_QUESTION, SLA_SENTENCE, SLA_TITLE
from tests.support.data import setup_conversation
from tests.support.environment import REDIS_DB
from tests.support.stacks import stack_on, web_of

pytestmark = pytest.mark.integration

# Waits for what the page shows (not assertions on time): generous, for a loaded machine.
PAGE_WAIT_MILLISECONDS = 60_000


@pytest.fixture(scope="module")
def stack(postgres_url, redis_server, tmp_path_factory):
    redis_url = f"{redis_server}/{REDIS_DB['offline']}"
    redis.Redis.from_url(redis_url).flushdb()
    with stack_on(postgres_url, redis_url, tmp_path_factory.mktemp("worker-browser"),
                  {"PARLEY_LLM": "offline"}) as running:
        yield running


@pytest.fixture(scope="module")
def web(stack, tmp_path_factory):
    """A gunicorn process of the app on the stack's database and Redis; its URL."""
    with web_of(stack, tmp_path_factory.mktemp("gunicorn-browser") / "web.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        expect.set_options(timeout=PAGE_WAIT_MILLISECONDS)
        yield running


@pytest.fixture
def requests_made():
    """Every request the page makes (Playwright's Request objects), in order."""
    return []


@pytest.fixture
def page(browser, web, requests_made):
    """The playground, loaded in a fresh browser context (its own sessionStorage)."""
    context = browser.new_context(base_url=web)
    context.set_default_timeout(PAGE_WAIT_MILLISECONDS)
    context.on("request", lambda request: requests_made.append(request))
    opened = context.new_page()
    opened.goto("/")
    yield opened
    context.close()


def use_key(page, key: str) -> None:
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_label("API key", exact=True).press("Enter")


def key_of(auth: dict) -> str:
    return auth["X-API-Key"]


def test_a_question_asked_on_the_page_streams_its_reply_and_ends_in_success(
        page, stack, web, requests_made):
    key = key_of(stack.new_org())

    use_key(page, key)
    expect(page.locator("#key-status")).to_have_text(f"Using the key ending in …{key[-4:]}.")
    expect(page.get_by_label("Data set", exact=True)).to_be_focused()

    page.get_by_label("New data set").fill("Plans")
    page.get_by_role("button", name="Create data set").click()
    expect(page.locator("#data-set-status")).to_have_text(
        re.compile(r"Created data set “Plans” \(#\d+\)\."))
    page.get_by_label("Title").fill(SLA_TITLE)
    page.get_by_label("Text").fill(SLA_DOCUMENT)
    page.get_by_label("Text").press("Control+Enter")
    expect(page.locator("#documents li")).to_have_text(
        [re.compile(rf"{SLA_TITLE} \(\d+ passages?\)")])

    page.get_by_role("button", name="New conversation on this data set").click()
    expect(page.get_by_label("Conversation", exact=True)).to_have_value(re.compile(r"\d+"))
    page.get_by_label("Question").fill(SLA_QUESTION)
    page.get_by_label("Question").press("Control+Enter")

    expect(page.locator("#task-state")).to_have_text("SUCCESS")
    expect(page.locator("#task-trail")).to_have_text("PENDING → STARTED → SUCCESS")
    expect(page.locator("#task-status")).to_have_text("SUCCESS, stage succeeded, 1 attempt")
    reply = page.locator("#reply").inner_text()
    assert SLA_SENTENCE in reply
    # It came in pieces: the offline model streams four words per content event.
    assert page.locator("#events li", has_text=re.compile(r"^content ")).count() > 1
    history = page.locator("#history li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_have_attribute("data-role", "user")
    expect(history.nth(0).locator("p")).to_have_text(SLA_QUESTION)
    expect(history.nth(1)).to_have_attribute("data-role", "agent")
    expect(history.nth(1).locator("p")).to_have_text(reply)

    # The page's task is the server's, and the stored reply is the one streamed.
    task_id = page.locator("#task-id").inner_text()
    status = stack.client.get(f"/api/task_status/{task_id}",
                              headers={"X-API-Key": key}).get_json()
    assert status["state"] == "SUCCESS"
    [streamed] = [request for request in requests_made
                  if request.url == f"{web}/api/tasks/{task_id}/events"]
    assert streamed.headers["x-api-key"] == key
    assert streamed.headers["accept"] == "text/event-stream"
    # Nothing loaded from elsewhere, and the key in no address.
    assert requests_made and all(request.url.startswith(f"{web}/")
                                 for request in requests_made), [r.url for r in requests_made]
    assert not [request.url for request in requests_made if key in request.url]


def test_a_refused_key_is_said_so_and_not_kept(page, requests_made):
    use_key(page, "pk_" + "0" * 43)

    expect(page.locator("#key-error")).to_have_text(
        "The key was refused: Invalid or revoked API key.")
    expect(page.locator("#workspace")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    [asked] = [request for request in requests_made if "/api/" in request.url]
    assert asked.url.endswith("/api/data_sets")


def test_the_key_is_kept_for_the_tab_until_forgotten(page, stack):
    key = key_of(stack.new_org())
    use_key(page, key)
    expect(page.locator("#workspace")).to_be_visible()

    page.reload()
    expect(page.locator("#key-status")).to_have_text(f"Using the key ending in …{key[-4:]}.")
    expect(page.locator("#workspace")).to_be_visible()
    page.get_by_role("button", name="Forget the key").click()

    expect(page.locator("#workspace")).to_be_hidden()
    expect(page.get_by_label("API key", exact=True)).to_be_focused()
    assert page.evaluate("sessionStorage.length") == 0


def test_an_unknown_conversation_shows_the_apis_error(page, stack):
    use_key(page, key_of(stack.new_org()))

    page.get_by_label("Open conversation by id").fill("999999")
    page.get_by_label("Open conversation by id").press("Enter")

    expect(page.locator("#conversation-error")).to_have_text(
        "Conversation 999999 not found. (HTTP 404)")


def test_a_dropped_stream_is_resumed_after_the_last_whole_event(page, stack):
    """The first events request is cut inside its second content event; the page asks
    again with Last-Event-ID set to the event before, and the reply it shows is the
    stored one: nothing twice, nothing missing."""
    auth = stack.new_org()
    conversation_id = setup_conversation(stack.client, auth)
    asked = []

    def cut_the_first_stream(route):
        asked.append(route.request.headers)
        if len(asked) > 1:
            route.continue_()
            return
        frames = route.fetch().text().split("\n\n")
        contents = [number for number, frame in enumerate(frames)
                    if "\nevent: content\n" in frame]
        last_whole = frames[contents[0]]
        half_of_the_next = frames[contents[1]][:len(frames[contents[1]]) // 2]
        asked[0] = {**asked[0], "cut after": last_whole.split("\n")[0].removeprefix("id: ")}
        route.fulfill(status=200, content_type="text/event-stream",
                      body="\n\n".join(frames[:contents[0] + 1] + [half_of_the_next]))

    page.route("**/api/tasks/*/events", cut_the_first_stream)
    use_key(page, key_of(auth))
    page.get_by_label("Open conversation by id").fill(str(conversation_id))
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_label("Question").fill(SLA_QUESTION)
    page.get_by_role("button", name="Ask").click()

    expect(page.locator("#task-state")).to_have_text("SUCCESS")
    cut_after = asked[0]["cut after"]
    assert len(asked) == 2 and asked[1]["last-event-id"] == cut_after
    expect(page.locator("#events li", has_text="connection lost")).to_have_text(
        f"connection lost: resuming after {cut_after}")
    expect(page.locator("#task-trail")).to_have_text("PENDING → STARTED → SUCCESS")
    stored = stack.client.get(f"/api/conversations/{conversation_id}",
                              headers=auth).get_json()["history"][-1]
    assert stored["role"] == "agent"
    expect(page.locator("#reply")).to_have_text(stored["text"])


def test_the_pages_event_stream_parser_reads_frames_split_anywhere(page):
    """sse.js on input the server does not send but the standard allows: CRLF line
    ends split across chunks, several data lines, comments, a retry field, an event
    without an id, and a frame cut off at the end (not an event, its id not kept)."""
    parsed = page.evaluate("""async () => {
        const {SseParser} = await import("/playground/sse.js");
        const events = [];
        const parser = new SseParser((event) => { events.push(event); });
        for (const chunk of ["retry: 2500\\n: a comment\\n\\nid: 1-0\\nevent: content\\ndata: a\\r",
                             "\\ndata: b\\r\\n\\r", "\\ndata: no id of its own\\n\\n",
                             "id: 2-0\\nevent: end\\nda"]) {
            parser.push(chunk);
        }
        return {events, lastEventId: parser.lastEventId, retry: parser.retry};
    }""")

    assert parsed == {
        "events": [{"id": "1-0", "name": "content", "data": "a\nb"},
                   {"id": "1-0", "name": "message", "data": "no id of its own"}],
        "lastEventId": "1-0",
        "retry": 2500,
    }
