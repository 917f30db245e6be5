"""Fixtures of the conversation service face's unit tests: its calls as the test's
organization, with the configured models synced as `parley up` does at start."""

import pytest

from app.services import language_models
from tests.support.conversation_service import Api


@pytest.fixture
def api(app, client, auth, org_key) -> Api:
    language_models.sync_configured(app.config)
    return Api(client, auth, org_key["org_id"])
