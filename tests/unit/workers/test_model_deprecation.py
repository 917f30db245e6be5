"""The default Claude model is a current one, and a worker warns once, as it starts, of
each deprecated model it may call (the SDK would warn on every call)."""

import logging
import typing

import anthropic.types

from app.config import DEFAULT_CLAUDE_MODEL
from app.services import language_models
from workers.celery_app import warn_of_deprecated_models
from workers.llm.anthropic import deprecated_models

DEPRECATED = "claude-sonnet-4-5"  # in the installed SDK's list of deprecated models


def test_the_default_model_is_in_the_sdks_list_and_not_deprecated():
    known = typing.get_args(typing.get_args(anthropic.types.ModelParam)[0])
    assert DEFAULT_CLAUDE_MODEL in known
    assert deprecated_models([DEFAULT_CLAUDE_MODEL]) == {}
    assert deprecated_models([DEPRECATED]) == {DEPRECATED: deprecated_models([DEPRECATED])[
        DEPRECATED]}


def test_a_worker_warns_once_of_each_deprecated_model_it_may_call(app, caplog):
    app.config.update(ANTHROPIC_API_KEY="k", CLAUDE_MODELS=[DEFAULT_CLAUDE_MODEL])
    language_models.add_model("anthropic", DEPRECATED)  # a chat session may be bound to it

    with caplog.at_level(logging.WARNING):
        warn_of_deprecated_models(app)

    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(warnings) == 1 and DEPRECATED in warnings[0]


def test_no_warning_for_current_models(app, caplog):
    app.config.update(ANTHROPIC_API_KEY="k", CLAUDE_MODELS=[DEFAULT_CLAUDE_MODEL])
    with caplog.at_level(logging.WARNING):
        warn_of_deprecated_models(app)
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]


def test_syncing_adds_the_new_default_and_keeps_an_old_sessions_model(app):
    language_models.add_model("anthropic", DEPRECATED)
    app.config.update(ANTHROPIC_API_KEY="k", CLAUDE_MODELS=[DEFAULT_CLAUDE_MODEL])

    language_models.sync_configured(app.config)

    enabled = {m.name for m in language_models.list_models()}
    assert {DEPRECATED, DEFAULT_CLAUDE_MODEL} <= enabled
