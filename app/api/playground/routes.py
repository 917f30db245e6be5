"""GET /: the playground, a page for trying the polling face and a task's events from a
browser (README, Playground). Outside the four faces: it needs no key (the page asks for
one, keeps it in the tab and sends it only to this server's API) and is in no OpenAPI
document. The page, its script and its style are plain files in app/static/playground,
served under /playground/."""

from pathlib import Path

from flask import Blueprint, send_from_directory

PAGE_FOLDER = Path(__file__).resolve().parents[2] / "static" / "playground"

# Everything the page loads and every request its script makes stay on this server, so
# a pasted key cannot be sent elsewhere; forms are sent by the script, never by the
# browser (a key in a URL would be in the access log).
CONTENT_SECURITY_POLICY = ("default-src 'self'; base-uri 'none'; form-action 'none'; "
                           "frame-ancestors 'none'")

blp = Blueprint("playground", __name__, static_folder=PAGE_FOLDER,
                static_url_path="/playground")


@blp.get("/")
def page():
    response = send_from_directory(PAGE_FOLDER, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.after_request
def _same_origin_only(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
