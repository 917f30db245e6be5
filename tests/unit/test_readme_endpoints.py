"""The README's Endpoints table lists every route each face serves, and nothing it does
not: compared with the app's own routes."""

import re
from pathlib import Path

from tests.support import readme

README = Path(__file__).resolve().parents[2] / "README.md"
# Routes outside the faces the table names in its own rows, and the files they serve.
NOT_FACES = {"static", "api-docs", "docs_assets", "health", "metrics", "playground"}
ROW = re.compile(r"^\| (\w+) \| `(\w+)` \| `([^`]+)` \|", re.M)


def _path(rule: str) -> str:
    """/api/x/<int(min=1):x_id> as the README writes it: /api/x/{x_id}."""
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule)


def test_the_endpoints_table_is_every_route_of_every_face(app):
    served = {(rule.endpoint.split(".")[0], method, _path(rule.rule))
              for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}
              if rule.endpoint.split(".")[0] not in NOT_FACES}
    listed = set(ROW.findall(readme.section(README.read_text(), "Endpoints")))

    assert listed - served == set(), "listed in the README, not served"
    assert served - listed == set(), "served, missing from the README's Endpoints"
