"""passages.embedding: a passage's semantic vector, for hybrid retrieval

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-29 03:00:00

Filled when a document is added with the semantic extra installed
(app/services/embeddings.py: 256 float16 values, 512 bytes); NULL otherwise, and for the
passages stored before, which hybrid search embeds when it meets them. A plain nullable
column on both databases: no extension (pgvector, sqlite-vec) is needed; similarity is
computed in Python (app/services/search.py says why). Existing rows keep NULL.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both databases: SQLite's batch mode would copy the table and
    # lose the triggers that keep its full-text index in step.
    op.add_column('passages', sa.Column('embedding', sa.LargeBinary(), nullable=True))


def downgrade():
    op.drop_column('passages', 'embedding')
