"""GET / (the playground) in-process: served without a key, outside the OpenAPI
document, every file it refers to served from this server, and a policy that keeps the
page and its requests on this server. Its behaviour in a browser:
tests/integration/browser/test_playground.py."""

import re
from html.parser import HTMLParser

from app.api.playground.routes import CONTENT_SECURITY_POLICY


class References(HTMLParser):
    """Every src and href of a page."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found += [value for name, value in attrs if name in ("src", "href")]


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.found


def test_the_page_is_served_at_the_root_without_a_key(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "<title>Parley playground</title>" in response.text
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY


def test_everything_the_page_refers_to_is_on_this_server_and_served(client):
    found = references(client.get("/").text)

    assert {"/playground/playground.js", "/playground/playground.css"} <= set(found)
    for reference in found:
        assert reference.startswith("/") and not reference.startswith("//"), reference
    for reference in found:
        assert client.get(reference).status_code == 200, reference


def test_the_scripts_modules_are_served_with_a_javascript_type(client):
    script = client.get("/playground/playground.js")
    imported = re.findall(r'from "\./([\w.-]+)"', script.text)

    assert imported == ["sse.js"]
    for path in ("/playground/playground.js", "/playground/sse.js"):
        response = client.get(path)
        assert response.status_code == 200
        # A module script of another type is refused by the browser.
        assert response.mimetype in ("text/javascript", "application/javascript")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_scripts_talk_only_to_this_server(client):
    for path in ("/playground/playground.js", "/playground/sse.js"):
        assert not re.search(r"https?://|wss?://", client.get(path).text), path


def test_a_missing_file_is_a_json_404(client):
    response = client.get("/playground/nothing-here.js")

    assert response.status_code == 404
    assert response.get_json()["code"] == 404


def test_the_page_is_not_in_the_openapi_document(client):
    paths = client.get("/openapi.json").get_json()["paths"]

    assert "/" not in paths
    assert not [path for path in paths if path.startswith("/playground")]


def test_its_files_are_served_only_with_the_page_s_headers(client):
    """No second copy under Flask's own /static route, without the security policy."""
    assert client.get("/static/playground/index.html").status_code == 404
    assert client.get("/static/redoc/redoc.standalone.js").status_code == 404
