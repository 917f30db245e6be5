"""/docs (Swagger UI) and /redoc (ReDoc) work without internet: every script and
stylesheet they load is the app's own (app/api/docs/routes.py) and answers, and the
vendored ReDoc file is the one its README names."""

import hashlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from app.api.docs.routes import REDOC_DIRECTORY

BASE = "http://localhost/"  # the test client's origin
CONTENT_TYPES = {".js": "javascript", ".css": "text/css"}


class AssetLinks(HTMLParser):
    """Every URL a page makes the browser load or follow: script src, link href, img
    src, and the like."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def asset_urls(client, page: str) -> list[str]:
    response = client.get(page)
    assert response.status_code == 200
    parser = AssetLinks()
    parser.feed(response.get_data(as_text=True))
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_page_loads_nothing_from_another_host(client, page):
    urls = asset_urls(client, page)

    assert urls
    for url in urls:
        absolute = urlsplit(urljoin(BASE + page.lstrip("/"), url))
        assert (absolute.scheme, absolute.netloc) == ("http", "localhost"), url


@pytest.mark.parametrize("page, expected", [
    ("/docs", {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"}),
    ("/redoc", {"redoc.standalone.js"})])
def test_every_file_the_page_loads_answers_with_its_content_type(client, page, expected):
    urls = asset_urls(client, page)

    assert {Path(urlsplit(url).path).name for url in urls} >= expected
    for url in urls:
        response = client.get(urlsplit(urljoin(BASE + page.lstrip("/"), url)).path)
        assert response.status_code == 200, url
        assert CONTENT_TYPES[Path(url).suffix] in response.content_type, url
        assert len(response.get_data()) > 10_000  # the library itself, not a stand-in


def test_the_docs_page_asks_no_online_validator(client):
    page = client.get("/docs").get_data(as_text=True)

    assert '"validatorUrl": null' in page


def test_an_unknown_asset_is_a_404_and_none_escapes_its_folder(client):
    assert client.get("/docs/assets/swagger-ui/nothing.js").status_code == 404
    assert client.get("/docs/assets/redoc/../../config.py").status_code == 404
    assert client.get("/docs/assets/redoc/%2e%2e/%2e%2e/config.py").status_code == 404


def test_the_vendored_redoc_is_the_file_its_readme_names():
    recorded, name = (REDOC_DIRECTORY / "redoc.standalone.js.sha256").read_text().split()
    content = (REDOC_DIRECTORY / name).read_bytes()

    assert hashlib.sha256(content).hexdigest() == recorded
    assert recorded in (REDOC_DIRECTORY / "README.md").read_text()
