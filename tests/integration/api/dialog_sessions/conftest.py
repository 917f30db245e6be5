"""Fixtures of the dialog sessions face's tests: the face's calls as this test's API
key, as another key of the same organization, and as another organization. Every test
runs on both databases (tests/integration/api/conftest.py)."""

import pytest

from app.extensions import db
from app.models import Organization
from app.services import organizations
from tests.support.dialog_sessions import Dialog


@pytest.fixture
def dialog(client, auth) -> Dialog:
    """The face's calls with this test's organization's key (Authorization: Bearer)."""
    return Dialog(client, auth)


@pytest.fixture
def colleague(client, org) -> Dialog:
    """The face's calls with another API key of the same organization (X-API-Key)."""
    name = db.session.get(Organization, org["org_id"]).name
    key = organizations.create_key(name)
    assert key["org_id"] == org["org_id"] and key["key_id"] != org["key_id"]
    return Dialog(client, {"X-API-Key": key["api_key"]})


@pytest.fixture
def stranger(client, other) -> Dialog:
    """The face's calls as another organization."""
    return Dialog(client, other["auth"])
