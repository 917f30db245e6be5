"""Data sets the agent answers from. Documents are split into passages, and the passages
are indexed for full-text search by the migrations: a GIN expression index on
PostgreSQL, an FTS5 table kept in step by triggers on SQLite (see app/services/search.py)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import created_at_column


class DataSet(db.Model):
    __tablename__ = "data_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_at_column()


class Document(db.Model):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    data_set_id: Mapped[int] = mapped_column(ForeignKey("data_sets.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    passage_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()


class Passage(db.Model):
    __tablename__ = "passages"
    __table_args__ = (Index("ix_passages_data_set_id_document_id", "data_set_id", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Denormalised from the document so a search filters on one indexed column.
    data_set_id: Mapped[int] = mapped_column(ForeignKey("data_sets.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # Its semantic vector, for hybrid retrieval (app/services/embeddings.py); NULL
    # without the semantic extra.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
