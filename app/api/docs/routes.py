"""The files of the documentation pages, served by the app itself so that /docs
(Swagger UI) and /redoc (ReDoc) work without internet and load no code from a CDN:
Swagger UI from the swagger-ui-bundle package, ReDoc from its one file vendored in
app/static/redoc (its version, source and sha256 are in the README there).
flask-smorest's pages point at these (OPENAPI_SWAGGER_UI_URL and OPENAPI_REDOC_URL,
app/config.py). No key, like the pages and /openapi.json."""

from pathlib import Path

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

REDOC_DIRECTORY = Path(__file__).resolve().parents[2] / "static" / "redoc"

blp = Blueprint("docs_assets", __name__, url_prefix="/docs/assets")


@blp.get("/swagger-ui/<path:filename>")
def swagger_ui(filename: str):
    return send_from_directory(str(swagger_ui_path), filename)


@blp.get("/redoc/<path:filename>")
def redoc(filename: str):
    return send_from_directory(REDOC_DIRECTORY, filename)
