"""The models chat sessions are bound to (app/services/language_models.py): stable ids,
syncing the configured ones without undoing an operator's choice, adding and disabling."""

import pytest

from app.services import language_models


def test_a_model_id_is_the_same_everywhere_and_differs_per_model():
    assert language_models.model_id("anthropic", "claude-x") == language_models.model_id(
        "anthropic", "claude-x")
    assert language_models.model_id("anthropic", "claude-x") != language_models.model_id(
        "anthropic", "claude-y")


def test_sync_adds_the_offline_model_and_claude_only_with_a_key(app):
    app.config.update(ANTHROPIC_API_KEY=None, CLAUDE_MODELS=["claude-a"])
    language_models.sync_configured(app.config)
    assert [m.provider for m in language_models.list_models()] == ["offline"]

    app.config.update(ANTHROPIC_API_KEY="key")
    language_models.sync_configured(app.config)
    assert [(m.provider, m.name) for m in language_models.list_models()] == [
        ("anthropic", "claude-a"), ("offline", language_models.OFFLINE_MODEL_NAME)]


def test_sync_never_enables_a_model_an_operator_disabled(app):
    language_models.sync_configured(app.config)
    language_models.disable_model(language_models.OFFLINE_MODEL_NAME)

    language_models.sync_configured(app.config)

    assert language_models.list_models() == []
    assert len(language_models.list_models(include_disabled=True)) == 1


def test_adding_a_disabled_model_enables_it_again(app):
    model = language_models.add_model("anthropic", "claude-b")
    language_models.disable_model(model.id)

    language_models.add_model("anthropic", "claude-b")

    assert [m.id for m in language_models.list_models()] == [model.id]


def test_a_model_of_an_unknown_provider_is_refused(app):
    from app.errors import BadRequest

    with pytest.raises(BadRequest):
        language_models.add_model("openai", "gpt")


def test_disabling_a_name_two_providers_share_asks_for_the_id(app):
    from app.errors import BadRequest

    language_models.add_model("anthropic", "shared-name")
    language_models.add_model("offline", "shared-name")

    with pytest.raises(BadRequest):
        language_models.disable_model("shared-name")
    assert len(language_models.list_models()) == 2
