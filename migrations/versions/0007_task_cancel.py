"""task cancel: tasks.canceled_at

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 12:30:00

When cancel was asked for a task (POST /api/tasks/{id}/cancel). A new nullable column:
every existing row survives unchanged (none was canceled).
"""
from alembic import op
import sqlalchemy as sa

from app.models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('canceled_at', UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('canceled_at')
