"""The models a chat session can be bound to: the configured Claude models and the
offline model, kept in a table that operators manage with `parley models`.

A model's id is a UUID derived from its provider and name, so it is the same on every
installation, and syncing the configured models again never changes it."""

import uuid

from sqlalchemy import select

from app.errors import BadRequest, NotFound
from app.extensions import db
from app.models import LanguageModel
from app.services.agent_io import OFFLINE_MODEL_NAME

PROVIDERS = ("anthropic", "offline")
_ID_NAMESPACE = uuid.UUID("7d1c7f0e-5c2a-4a8e-9a57-3f0b8d2c6e41")


def model_id(provider: str, name: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{provider}:{name}"))


def list_models(include_disabled: bool = False) -> list[LanguageModel]:
    query = select(LanguageModel).order_by(LanguageModel.provider, LanguageModel.name)
    if not include_disabled:
        query = query.where(LanguageModel.enabled.is_(True))
    return list(db.session.scalars(query))


def usable_model(model_id_: str) -> LanguageModel:
    """A model a new session may use: an unknown one is a 404, a disabled one a 400."""
    model = db.session.get(LanguageModel, model_id_)
    if model is None:
        raise NotFound(f"Model {model_id_} not found: GET /api/models lists the models "
                       "you can use.")
    if not model.enabled:
        raise BadRequest(f"Model {model_id_} ({model.name}) is disabled: choose another "
                         "from GET /api/models.")
    return model


def add_model(provider: str, name: str) -> LanguageModel:
    """Add a model, or enable it again if it exists."""
    if provider not in PROVIDERS:
        raise BadRequest(f"The provider must be one of {', '.join(PROVIDERS)}, not "
                         f"{provider!r}.")
    name = name.strip()
    if not name or len(name) > 100:
        raise BadRequest("A model name is 1 to 100 characters.")
    model = db.session.get(LanguageModel, model_id(provider, name))
    if model is None:
        model = LanguageModel(id=model_id(provider, name), provider=provider, name=name)
        db.session.add(model)
    model.enabled = True
    db.session.commit()
    return model


def disable_model(id_or_name: str) -> LanguageModel:
    """Disable a model, found by its id or its name. Sessions bound to it take no
    more messages; the replies it wrote keep naming it."""
    model = db.session.get(LanguageModel, id_or_name)
    if model is None:
        named = db.session.scalars(
            select(LanguageModel).where(LanguageModel.name == id_or_name)).all()
        if len(named) > 1:
            raise BadRequest(f"Several providers have a model named {id_or_name}: "
                             "give its id.")
        model = named[0] if named else None
    if model is None:
        raise NotFound(f"Model {id_or_name} not found.")
    model.enabled = False
    db.session.commit()
    return model


def configured_models(config) -> list[tuple[str, str]]:
    """(provider, name) of the models this installation is set up to serve: the Claude
    models (PARLEY_CLAUDE_MODELS, else ANTHROPIC_MODEL) when a key is set, and the
    offline model always."""
    models = [("offline", OFFLINE_MODEL_NAME)]
    if config["ANTHROPIC_API_KEY"]:
        models += [("anthropic", name) for name in config["CLAUDE_MODELS"]]
    return models


def claude_models_in_use(config) -> set[str]:
    """The Claude models this installation may call: the configured ones and those
    enabled in the table (chat sessions may be bound to them)."""
    configured = {name for provider, name in configured_models(config)
                  if provider == "anthropic"}
    return configured | set(db.session.scalars(select(LanguageModel.name).where(
        LanguageModel.provider == "anthropic", LanguageModel.enabled.is_(True))))


def sync_configured(config) -> list[LanguageModel]:
    """Add the configured models that the table lacks. A model an operator disabled
    stays disabled: syncing never overrides `parley models disable`."""
    added = []
    for provider, name in configured_models(config):
        if db.session.get(LanguageModel, model_id(provider, name)) is None:
            model = LanguageModel(id=model_id(provider, name), provider=provider, name=name)
            db.session.add(model)
            added.append(model)
    db.session.commit()
    return added
