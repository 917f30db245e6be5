"""Fixtures of the worker side's tests."""

import pytest

from tests.support.fake_anthropic import FakeAnthropicServer


@pytest.fixture(scope="module")
def server():
    """The fake Anthropic server (tests/support/fake_anthropic.py), one per module."""
    with FakeAnthropicServer() as fake:
        yield fake
