"""passages.embedding: a passage's semantic vector, for hybrid retrieval; on PostgreSQL,
passages.search_vector: its full-text vector, stored

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 03:00:00

Filled when a document is added with the semantic extra installed
(app/services/embeddings.py: 256 float16 values, 512 bytes); NULL otherwise, and for the
passages stored before, which hybrid search embeds when it meets them. A plain nullable
column on both databases: no extension (pgvector, sqlite-vec) is needed; similarity is
computed in Python (app/services/search.py says why). Existing rows keep NULL.

On PostgreSQL the full-text index was over an expression, to_tsvector('english', text),
which every query computed again for each passage it ranked, and for every passage of the
data set when the planner scanned the table (a question ORing its words and their
paraphrases matches many): about 0.2 ms a passage, near a second a question over 4,400
passages. A stored generated column holds the vector once, with a GIN index over it; the
expression index goes (downgrade builds it again).
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both databases: SQLite's batch mode would copy the table and
    # lose the triggers that keep its full-text index in step.
    op.add_column('passages', sa.Column('embedding', sa.LargeBinary(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE passages ADD COLUMN search_vector tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED")
        op.execute("CREATE INDEX ix_passages_search_vector ON passages "
                   "USING gin (search_vector)")
        op.execute("DROP INDEX ix_passages_search")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE INDEX ix_passages_search ON passages "
                   "USING gin (to_tsvector('english', text))")
        op.execute("DROP INDEX ix_passages_search_vector")
        op.drop_column('passages', 'search_vector')
    op.drop_column('passages', 'embedding')
