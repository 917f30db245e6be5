"""The periodic upkeep's Celery INFO lines (a sweep every 2 s) are dropped; every other
task's, and the upkeep's warnings and errors, are kept."""

import logging

from workers.celery_app import QuietPeriodicTasks


def record(level: int, task: str) -> logging.LogRecord:
    return logging.LogRecord("celery.app.trace", level, __file__, 1,
                             "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
                             ({"name": task, "id": "1", "runtime": 0.01, "return_value": None},),
                             None)


def test_only_the_upkeeps_info_lines_are_dropped():
    quiet = QuietPeriodicTasks()

    assert not quiet.filter(record(logging.INFO, "parley.sweep"))
    assert not quiet.filter(record(logging.INFO, "parley.expire_dialog_sessions"))
    assert quiet.filter(record(logging.INFO, "parley.reply"))
    assert quiet.filter(record(logging.ERROR, "parley.sweep"))
