"""One provider per process, chosen by PARLEY_LLM: its HTTP client, and so its pool
of connections to the model, is shared by every task the process runs."""

import threading

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

        return OfflineProvider()
    raise ValueError(f"PARLEY_LLM must be 'anthropic' or 'offline', not {kind!r}")


def get_provider(config) -> Provider:
    kind = config["LLM_PROVIDER"]
    settings = ()
    if kind == "anthropic":
        settings = (("api_key", config["ANTHROPIC_API_KEY"]),
                    ("base_url", config["ANTHROPIC_BASE_URL"]),
                    ("model", config["ANTHROPIC_MODEL"]),
                    ("timeout", config["LLM_TIMEOUT_SECONDS"]))
    key = (kind, settings)
    provider = _providers.get(key)
    if provider is None:
        with _building:
            provider = _providers.get(key)
            if provider is None:
                provider = _providers[key] = _build(kind, settings)
    return provider
