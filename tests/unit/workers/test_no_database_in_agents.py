"""Agents and model providers know nothing of the database: importing them, in a fresh
interpreter, loads no database module (import-linter checks the imports they name;
this checks what Python really loads, package __init__ files included)."""

import subprocess
import sys

from tests.support.processes import ROOT

MODULES = ["workers.agents.data_set_qa", "workers.agents.summariser",
           "workers.agents.webhook_sender", "workers.llm.offline",
           "workers.llm.anthropic", "workers.llm.registry"]
DATABASE = ["flask_sqlalchemy", "sqlalchemy", "app.extensions", "app.models"]


def test_agents_and_providers_load_no_database_module():
    script = ("import sys; " + "; ".join(f"import {m}" for m in MODULES)
              + f"; print(sorted(m for m in {DATABASE!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
