"""While the database is unreachable the API answers 503 with a JSON error, not 500."""

from tests.support.apps import make_app

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"


def test_unreachable_database_is_a_503_json_error():
    client = make_app(UNREACHABLE).test_client()

    response = client.get("/api/task_status/any", headers={"X-API-Key": "pk_anything"})

    assert response.status_code == 503
    assert response.get_json()["message"] == "The database is unavailable; try again shortly."
