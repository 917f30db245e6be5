"""The README's "Walkthrough with curl", read from the README and run as written, top to
bottom, against a live `parley up` on an empty machine (SQLite, the embedded broker, the
offline model) on a port of its own: every step must succeed (an HTTP error fails it),
and every sample answer the README shows must have the keys, in order, of the real one.
"""

import subprocess

import pytest

from tests.integration.test_parley_up import ctrl_c, embedded_env, start_up, wait_for_box
from tests.support import readme
from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.integration
SECTION = "Walkthrough with curl"
# What the script runs before the README's own lines: stop at the first failing step,
# and let curl fail on an HTTP error (the README's curl -s prints the error's JSON).
PRELUDE = """set -eo pipefail
curl() { command curl --fail-with-body "$@"; }
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`parley up` in a PARLEY_HOME of its own, once it is ready; (its URL, its
    environment)."""
    home = tmp_path_factory.mktemp("walkthrough-home")
    port = free_port()
    up, log = start_up(home, "--port", str(port), "--flower-port", "0")
    try:
        wait_for_box(up, log)
        yield f"http://127.0.0.1:{port}", embedded_env(home)
    finally:
        ctrl_c(up)


def script(statements: list[readme.Statement], outputs) -> str:
    """The README's statements as one bash script, each one's output also kept in
    outputs/<n>.out for the comparison with its sample."""
    lines = [PRELUDE]
    for number, statement in enumerate(statements):
        out = outputs / f"{number}.out"
        lines.append(f"{{ {statement.command}\n}} > '{out}'\ncat '{out}'")
    return "\n".join(lines) + "\n"


def test_the_walkthrough_runs_as_written_and_its_samples_are_true(server, tmp_path):
    base, env = server
    statements = readme.statements(readme.section((ROOT / "README.md").read_text(), SECTION))
    assert len(statements) > 10, "the walkthrough's steps were not found"

    ran = subprocess.run(["bash", "-c", script(statements, tmp_path)], cwd=ROOT,
                         env={**env, "B": base}, capture_output=True, text=True, timeout=180)

    assert ran.returncode == 0, f"the walkthrough stopped:\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
    for number, statement in enumerate(statements):
        if "{" not in statement.sample and "[" not in statement.sample:
            continue
        real = (tmp_path / f"{number}.out").read_text()
        problem = readme.matches(statement.sample, real)
        assert problem is None, f"{statement.command}\n{problem}\nreal: {real}"
