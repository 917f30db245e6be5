"""The polling face's data sets and documents, through the Flask test client on BOTH
databases (specs/conversations-polling-api.md and the README's API section): every test
runs once on a migrated SQLite file and once on PostgreSQL
(tests/integration/api/conftest.py)."""

import io

import pytest

from tests.support.data import SLA_TITLE, ask_and_answer, is_utc_timestamp

pytestmark = pytest.mark.integration


def upload(client, auth, data_set_id, content: bytes, filename: str):
    return client.post(f"/api/data_sets/{data_set_id}/documents",
                       data={"file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data", headers=auth)


def documents(client, auth, data_set_id) -> list[dict]:
    response = client.get(f"/api/data_sets/{data_set_id}/documents", headers=auth)
    assert response.status_code == 200
    return response.get_json()


# -- data sets -------------------------------------------------------------------------


def test_create_data_set_returns_201_with_its_fields(client, auth):
    response = client.post("/api/data_sets", json={"name": "Plans", "description": "Fibre"},
                           headers=auth)

    assert response.status_code == 201
    body = response.get_json()
    assert isinstance(body["id"], int)
    assert body["name"] == "Plans"
    assert body["description"] == "Fibre"
    assert is_utc_timestamp(body["created_at"])


def test_create_data_set_description_is_optional(client, auth):
    response = client.post("/api/data_sets", json={"name": "Plans"}, headers=auth)

    assert response.status_code == 201
    assert response.get_json()["description"] == ""


def test_list_data_sets_returns_them_in_creation_order(client, auth):
    ids = [client.post("/api/data_sets", json={"name": name}, headers=auth).get_json()["id"]
           for name in ("First", "Second")]

    response = client.get("/api/data_sets", headers=auth)

    assert response.status_code == 200
    assert [(d["id"], d["name"]) for d in response.get_json()] == list(zip(ids, ["First", "Second"]))


def test_get_data_set_by_id(client, auth, data_set_id):
    response = client.get(f"/api/data_sets/{data_set_id}", headers=auth)

    assert response.status_code == 200
    assert response.get_json()["id"] == data_set_id
    assert response.get_json()["name"] == "Plans"


# -- documents -------------------------------------------------------------------------


def test_add_document_by_json_returns_201_with_passage_count(client, auth, data_set_id):
    response = client.post(f"/api/data_sets/{data_set_id}/documents",
                           json={"title": "Router manual", "content": "Reset by holding the button."},
                           headers=auth)

    assert response.status_code == 201
    body = response.get_json()
    assert isinstance(body["id"], int)
    assert body["title"] == "Router manual"
    assert body["data_set_id"] == data_set_id
    assert body["passage_count"] == 1
    assert is_utc_timestamp(body["created_at"])


def test_list_documents_returns_them_in_order(client, auth, data_set_id):
    titles = [d["title"] for d in documents(client, auth, data_set_id)]

    assert titles == [SLA_TITLE, "Home price list"]


def test_upload_txt_file_is_titled_by_its_file_name(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, b"Router reset: hold the button.", "router-guide.txt")

    assert response.status_code == 201
    assert response.get_json()["title"] == "router-guide"
    assert "router-guide" in [d["title"] for d in documents(client, auth, data_set_id)]


def test_upload_md_file_is_titled_by_its_file_name(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, b"# Notes\n\nThe modem is grey.", "notes.md")

    assert response.status_code == 201
    assert response.get_json()["title"] == "notes"
    assert response.get_json()["passage_count"] >= 1


def test_uploaded_document_is_searchable_at_once(client, auth, data_set_id, conversation_id):
    upload(client, auth, data_set_id, "The modem's LED turns magenta during firmware updates."
           .encode(), "modem.md")

    agent = ask_and_answer(client, auth, conversation_id, "Why is the modem LED magenta?")

    assert "magenta during firmware updates" in agent["text"]
    assert "modem" in agent["text"]


def test_upload_of_pdf_is_rejected_with_422(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, b"%PDF-1.4 ...", "plans.pdf")

    assert response.status_code == 422
    assert ".txt" in response.get_json()["message"]
    assert len(documents(client, auth, data_set_id)) == 2


def test_upload_of_non_utf8_file_is_rejected_with_422(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, "Preis: 30 \u20ac".encode("utf-16"), "prices.txt")

    assert response.status_code == 422
    assert "UTF-8" in response.get_json()["message"]
    assert len(documents(client, auth, data_set_id)) == 2


def test_upload_of_empty_file_is_rejected_with_422(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, b"  \n\n ", "empty.txt")

    assert response.status_code == 422
    assert "empty" in response.get_json()["message"].lower()
    assert len(documents(client, auth, data_set_id)) == 2


def test_multipart_without_file_field_is_rejected_with_422(client, auth, data_set_id):
    response = client.post(f"/api/data_sets/{data_set_id}/documents",
                           data={"document": (io.BytesIO(b"text"), "a.txt")},
                           content_type="multipart/form-data", headers=auth)

    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422
    assert "'file'" in body["message"]
    assert len(documents(client, auth, data_set_id)) == 2


def test_uploaded_file_name_longer_than_a_title_is_cut_to_300_characters(
        client, auth, data_set_id):
    # A JSON title is limited to 300 characters (documents.title is VARCHAR(300)); an
    # upload's title comes from the file name and is cut to the same limit: the upload
    # is accepted, under the first 300 characters of its name.
    response = upload(client, auth, data_set_id, b"Some text.", "n" * 400 + ".txt")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["title"] == "n" * 300
    assert "n" * 300 in [d["title"] for d in documents(client, auth, data_set_id)]
