"""`parley tasks` as an operator runs it, on the real path (PostgreSQL, Redis, a real
worker, the fake Claude): a task the model failed is found by `list --state failed`,
shown with its error and queue, retried by the CLI and answered by the worker as a new
attempt, once; cancel ends a waiting question; unknown ids and refused actions exit 1
with a JSON error."""

import json
import os
import subprocess
import sys

import pytest

from app.services.tasks import CANCELED_ERROR
from tests.support.data import SLA_QUESTION, ask, history, setup_conversation
from tests.support.processes import ROOT

pytestmark = pytest.mark.integration
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def parley(stack, tmp_path, *args: str) -> subprocess.CompletedProcess:
    config = stack.app.config
    env = {**os.environ, "PARLEY_HOME": str(tmp_path),
           "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": config["REDIS_URL"]}
    return subprocess.run([sys.executable, "-m", "app.cli", "tasks", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_a_failed_task_is_listed_shown_and_retried_into_one_reply(claude_stack, fake_model,
                                                                  tmp_path):
    fake_model.configure(faults=["400"])  # a bad request: the task fails at once
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)
    task_id = ask(claude_stack.client, auth, conversation_id)
    assert claude_stack.wait_for_task(auth, task_id)["state"] == "FAILURE"

    listed = parley(claude_stack, tmp_path, "list", "--state", "failed", "--since", "1h")
    assert listed.returncode == 0, listed.stderr
    failed = {row["id"]: row for row in lines(listed.stdout)}
    org_id = failed[task_id]["org_id"]
    assert lines(parley(claude_stack, tmp_path, "list", "--org", org_id).stdout)[0]["id"] \
        == task_id

    shown = parley(claude_stack, tmp_path, "show", task_id)
    assert shown.returncode == 0, shown.stderr
    (row,) = lines(shown.stdout)
    assert (row["state"], row["kind"], row["queue"], row["attempts"]) == (
        "FAILURE", "reply", "replies", 1)
    assert row["error"]
    assert SLA_QUESTION not in shown.stdout  # ids, states and errors: no message text

    retried = parley(claude_stack, tmp_path, "retry", task_id)
    assert retried.returncode == 0, retried.stderr
    assert lines(retried.stdout) == [{"task_id": task_id, "state": "PENDING",
                                      "published": True}]
    status = claude_stack.wait_for_task(auth, task_id)
    assert (status["state"], status["attempts"]) == ("SUCCESS", 2)
    assert [m["role"] for m in history(claude_stack.client, auth, conversation_id)] == [
        "user", "agent"]

    again = parley(claude_stack, tmp_path, "retry", task_id, UNKNOWN)
    assert again.returncode == 1
    assert again.stdout == ""
    refusals = {error["task_id"]: error for error in lines(again.stderr)}
    assert refusals[task_id]["code"] == "task_not_failed"
    assert "not found" in refusals[UNKNOWN]["error"]


def test_cancel_ends_a_question_for_good_and_unknown_ids_exit_1(claude_stack, fake_model,
                                                                tmp_path):
    fake_model.configure(latency=1.0)  # under the workers' model timeout (1.5 s)
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)
    # Questions ahead of it for about 5 s: the command takes 2 s or more to start.
    earlier = [ask(claude_stack.client, auth, conversation_id, f"Question {n}?")
               for n in range(5)]
    waiting = ask(claude_stack.client, auth, conversation_id, "And the price?")

    canceled = parley(claude_stack, tmp_path, "cancel", waiting)

    assert canceled.returncode == 0, canceled.stderr
    # Ended at once while it waits its turn; stopped at its next chunk if the earlier
    # questions were answered before the command started.
    (answer,) = lines(canceled.stdout)
    assert answer["task_id"] == waiting and answer["result"] in ("canceled", "canceling")
    for task_id in earlier:
        assert claude_stack.wait_for_task(auth, task_id)["state"] == "SUCCESS"
    status = claude_stack.wait_for_task(auth, waiting)
    assert (status["state"], status["error"]) == ("FAILURE", CANCELED_ERROR)
    refused = parley(claude_stack, tmp_path, "retry", waiting)
    assert refused.returncode == 1
    assert lines(refused.stderr)[0]["code"] == "task_canceled"
    for command in ("show", "cancel"):
        unknown = parley(claude_stack, tmp_path, command, UNKNOWN)
        assert unknown.returncode == 1
        assert lines(unknown.stderr) == [{"task_id": UNKNOWN,
                                          "error": f"Task {UNKNOWN} not found."}]


def test_bad_arguments_are_refused_before_anything_runs(claude_stack, tmp_path):
    for args in (("list", "--since", "yesterday"), ("list", "--state", "lost"),
                 ("list", "--limit", "0")):
        refused = parley(claude_stack, tmp_path, *args)
        assert refused.returncode == 2, args
        assert "usage:" in refused.stderr
