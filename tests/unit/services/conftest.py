"""Fixtures of the core's unit tests."""

import pytest


@pytest.fixture
def sent(app, monkeypatch):
    """The broker replaced by a recorder: the (task name, task id) of every publish."""
    calls = []
    monkeypatch.setattr(app.extensions["celery"], "send_task",
                        lambda name, args=None, task_id=None, **_: calls.append((name, task_id)))
    return calls
