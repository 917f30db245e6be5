"""Model providers behind one interface: `anthropic` (Claude through the official SDK)
and `offline` (deterministic extraction, no network)."""

from workers.llm.base import LLMRequest, OnText, Provider
from workers.llm.registry import get_provider

__all__ = ["LLMRequest", "OnText", "Provider", "get_provider"]
