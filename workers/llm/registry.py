"""One provider per process and model, chosen by PARLEY_LLM or by a chat session's
model: its HTTP client, and so its pool of connections to the model, is shared by
every task the process runs."""

import threading

from app.services.agent_io import ModelChoice, PermanentError
from workers.llm.base import Provider

_providers: dict[tuple, Provider] = {}
# Hundreds of worker threads ask at once when a worker starts: build each provider once.
_building = threading.Lock()


def _build(kind: str, settings: tuple) -> Provider:
    if kind == "anthropic":
        from workers.llm.anthropic import AnthropicProvider

        return AnthropicProvider(**dict(settings))
    if kind == "offline":
        from workers.llm.offline import OfflineProvider

        return OfflineProvider(**dict(settings))
    raise ValueError(f"PARLEY_LLM must be 'anthropic' or 'offline', not {kind!r}")


def get_provider(config, model: ModelChoice | None = None) -> Provider:
    """The provider of `model`, or of the installation's default (PARLEY_LLM)."""
    kind = model.provider if model else config["LLM_PROVIDER"]
    settings: tuple = (("chunk_delay", config["OFFLINE_CHUNK_DELAY_SECONDS"]),)
    if kind == "anthropic":
        if not config["ANTHROPIC_API_KEY"]:
            raise PermanentError("Claude is not configured here: the server has no "
                                    "ANTHROPIC_API_KEY.")
        settings = (("api_key", config["ANTHROPIC_API_KEY"]),
                    ("base_url", config["ANTHROPIC_BASE_URL"]),
                    ("model", model.name if model else config["ANTHROPIC_MODEL"]),
                    ("timeout", config["LLM_TIMEOUT_SECONDS"]))
    key = (kind, settings)
    provider = _providers.get(key)
    if provider is None:
        with _building:
            provider = _providers.get(key)
            if provider is None:
                provider = _providers[key] = _build(kind, settings)
    return provider
