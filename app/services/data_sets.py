"""Data sets and their documents, always scoped to the caller's organization."""

from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.models import DataSet, Document, Passage
from app.services import embeddings, search
from app.services.text import split_passages


def create_data_set(org_id: str, name: str, description: str = "") -> DataSet:
    data_set = DataSet(org_id=org_id, name=name, description=description)
    db.session.add(data_set)
    db.session.commit()
    return data_set


def list_data_sets(org_id: str) -> list[DataSet]:
    return list(db.session.scalars(
        select(DataSet).where(DataSet.org_id == org_id).order_by(DataSet.id)))


def get_data_set(org_id: str, data_set_id: int) -> DataSet:
    data_set = db.session.get(DataSet, data_set_id)
    if data_set is None or data_set.org_id != org_id:
        # Another organization's data set does not exist for this caller. The code is
        # for the faces whose error bodies carry one (the dialogue store's).
        raise NotFound(f"Data set {data_set_id} not found.", code="DATA_SET_NOT_FOUND")
    return data_set


def check_data_set(org_id: str, data_set_id: int | None) -> None:
    """A data set named by a caller is one of its organization's (else NotFound); None,
    no data set, always passes."""
    if data_set_id is not None:
        get_data_set(org_id, data_set_id)


def add_document(org_id: str, data_set_id: int, title: str, content: str) -> Document:
    """Store the document and its passages in one transaction; the full-text index is
    kept in step by the database, each passage's semantic vector is stored with it when
    retrieval is hybrid (see app/services/search.py)."""
    get_data_set(org_id, data_set_id)
    passages = split_passages(content)
    vectors = ([embeddings.to_bytes(v) for v in embeddings.embed(passages)]
               if passages and search.semantic() else [None] * len(passages))
    document = Document(data_set_id=data_set_id, title=title, content=content,
                        passage_count=len(passages))
    db.session.add(document)
    db.session.flush()
    db.session.add_all(
        Passage(data_set_id=data_set_id, document_id=document.id, position=i, text=text,
                embedding=vector)
        for i, (text, vector) in enumerate(zip(passages, vectors)))
    db.session.commit()
    return document


def list_documents(org_id: str, data_set_id: int) -> list[Document]:
    get_data_set(org_id, data_set_id)
    return list(db.session.scalars(
        select(Document).where(Document.data_set_id == data_set_id).order_by(Document.id)))
