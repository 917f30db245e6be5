"""app/services/idempotency.py: the rules of a key, one at a time, on SQLite: the first
request takes it, the same request gets the recorded answer, another request is 422,
one still being handled is 409, a released key is free again, a key held too long or
expired is taken over, expired keys are deleted; what a fingerprint compares."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.errors import BadRequest, Conflict, InvalidInput
from app.models import IdempotencyKey
from app.models.base import utcnow
from app.services import idempotency
from app.services.idempotency import Answer, Hold
from tests.support.data import new_org

PRINT = idempotency.fingerprint("POST", "/api/data_sets", [], "application/json",
                                b'{"name": "Plans"}')
OTHER_PRINT = idempotency.fingerprint("POST", "/api/data_sets", [], "application/json",
                                      b'{"name": "Other"}')
CREATED = Answer(201, {"Content-Type": "application/json"}, b'{"id": 1}')


@pytest.fixture
def org_id(app) -> str:
    return new_org()["org_id"]


def key_row(db, org_id: str, key: str) -> IdempotencyKey | None:
    db.session.expire_all()
    return db.session.scalar(select(IdempotencyKey).where(
        IdempotencyKey.org_id == org_id, IdempotencyKey.key == key))


def age(db, org_id: str, key: str, **values) -> None:
    db.session.execute(update(IdempotencyKey).where(
        IdempotencyKey.org_id == org_id, IdempotencyKey.key == key).values(**values))
    db.session.commit()


def test_the_first_request_takes_the_key(db, org_id):
    taken = idempotency.begin(org_id, "k1", PRINT)

    assert taken == Hold(taken.row_id, 1)
    row = key_row(db, org_id, "k1")
    assert (row.state, row.fingerprint, row.status) == ("in_progress", PRINT, None)
    assert row.expires_at - row.created_at == timedelta(hours=24)


def test_the_same_request_gets_the_recorded_answer(org_id):
    idempotency.complete(idempotency.begin(org_id, "k1", PRINT), CREATED)

    assert idempotency.begin(org_id, "k1", PRINT) == CREATED


def test_a_streamed_answer_is_recorded_as_its_task(org_id):
    streamed = Answer(200, {"X-Task-Id": "t"}, None, task_id="t")
    idempotency.complete(idempotency.begin(org_id, "k1", PRINT), streamed)

    assert idempotency.begin(org_id, "k1", PRINT) == streamed


def test_another_request_with_the_key_is_422_reused(org_id):
    idempotency.complete(idempotency.begin(org_id, "k1", PRINT), CREATED)

    with pytest.raises(InvalidInput) as refused:
        idempotency.begin(org_id, "k1", OTHER_PRINT)

    assert refused.value.code == "idempotency_key_reused"


def test_another_request_is_422_even_while_the_first_runs(org_id):
    idempotency.begin(org_id, "k1", PRINT)

    with pytest.raises(InvalidInput):
        idempotency.begin(org_id, "k1", OTHER_PRINT)


def test_the_same_request_while_the_first_runs_is_409_in_use(org_id):
    idempotency.begin(org_id, "k1", PRINT)

    with pytest.raises(Conflict) as refused:
        idempotency.begin(org_id, "k1", PRINT)

    assert refused.value.code == "idempotency_key_in_use"


def test_a_released_key_is_free_again(db, org_id):
    idempotency.release(idempotency.begin(org_id, "k1", PRINT))

    assert key_row(db, org_id, "k1") is None
    assert isinstance(idempotency.begin(org_id, "k1", OTHER_PRINT), Hold)


def test_keys_are_the_organizations_own(org_id):
    idempotency.complete(idempotency.begin(org_id, "k1", PRINT), CREATED)

    assert isinstance(idempotency.begin(new_org()["org_id"], "k1", OTHER_PRINT), Hold)


def test_a_key_held_too_long_is_taken_over(db, app, org_id):
    first = idempotency.begin(org_id, "k1", PRINT)
    held_since = utcnow() - timedelta(seconds=app.config["IDEMPOTENCY_TAKEOVER_SECONDS"] + 1)
    age(db, org_id, "k1", started_at=held_since)

    second = idempotency.begin(org_id, "k1", PRINT)

    assert second == Hold(first.row_id, 2)
    assert key_row(db, org_id, "k1").started_at > held_since


def test_a_holder_whose_key_was_taken_over_records_nothing(db, app, org_id):
    first = idempotency.begin(org_id, "k1", PRINT)
    age(db, org_id, "k1", started_at=utcnow() - timedelta(days=1))
    second = idempotency.begin(org_id, "k1", PRINT)

    assert idempotency.complete(first, CREATED) is False
    idempotency.release(first)
    assert key_row(db, org_id, "k1").state == "in_progress"
    assert idempotency.complete(second, CREATED) is True


def test_an_expired_key_is_taken_over_for_any_request(db, org_id):
    idempotency.complete(idempotency.begin(org_id, "k1", PRINT), CREATED)
    age(db, org_id, "k1", expires_at=utcnow() - timedelta(seconds=1))

    taken = idempotency.begin(org_id, "k1", OTHER_PRINT)

    assert isinstance(taken, Hold) and taken.attempt == 2
    row = key_row(db, org_id, "k1")
    assert (row.state, row.fingerprint, row.status, row.body) == (
        "in_progress", OTHER_PRINT, None, None)
    assert row.expires_at > utcnow() + timedelta(hours=23)


def test_expired_keys_are_deleted_in_batches(db, org_id):
    for key in ("old1", "old2", "old3", "fresh"):
        idempotency.complete(idempotency.begin(org_id, key, PRINT), CREATED)
    for key in ("old1", "old2", "old3"):
        age(db, org_id, key, expires_at=utcnow() - timedelta(seconds=1))

    assert idempotency.delete_expired(batch=2) == 3

    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey).where(
        IdempotencyKey.org_id == org_id)) == 1
    assert key_row(db, org_id, "fresh") is not None


@pytest.mark.parametrize("status", [200, 201, 202, 400, 403, 404, 410, 415, 422])
def test_final_answers_are_kept(status):
    assert idempotency.keeps(status)


@pytest.mark.parametrize("status", [409, 429, 500, 502, 503])
def test_answers_saying_not_now_are_not_kept(status):
    assert not idempotency.keeps(status)


@pytest.mark.parametrize("key", ["a", "0b1c2d3e-aaaa-4bbb-8ccc-123456789abc",
                                 "order:42/retry_1", "x" * 255])
def test_a_key_is_1_to_255_visible_ascii_characters(key):
    assert idempotency.check_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\there", "naïve"])
def test_anything_else_is_a_400_naming_the_header(key):
    with pytest.raises(BadRequest) as refused:
        idempotency.check_key(key)

    assert refused.value.code == "idempotency_key_invalid"
    assert "Idempotency-Key" in refused.value.errors["headers"]


def test_the_fingerprint_compares_method_path_query_type_and_body():
    base = ("POST", "/api/conversation/create", [("org_id", "o")], "application/json", b"{}")
    same = idempotency.fingerprint(*base)
    changed = [("PUT", *base[1:]), (base[0], "/api/other", *base[2:]),
               (*base[:2], [("org_id", "p")], *base[3:]), (*base[:3], "text/plain", base[4]),
               (*base[:4], b"{ }")]

    assert idempotency.fingerprint(*base) == same
    assert all(idempotency.fingerprint(*request) != same for request in changed)


def test_the_query_compares_in_any_order():
    one = idempotency.fingerprint("POST", "/p", [("a", "1"), ("b", "2")], "", b"")
    other = idempotency.fingerprint("POST", "/p", [("b", "2"), ("a", "1")], "", b"")

    assert one == other


def test_a_multipart_boundary_is_not_compared():
    def upload(boundary: str) -> str:
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"a.md\"\r\n\r\nhello\r\n--{boundary}--\r\n").encode()
        content_type, body = idempotency.canonical_content(
            "multipart/form-data", {"boundary": boundary}, body)
        return idempotency.fingerprint("POST", "/p", [], content_type, body)

    assert upload("----abc123") == upload("----xyz789")
    assert upload("----abc123") != idempotency.fingerprint("POST", "/p", [], "", b"")
