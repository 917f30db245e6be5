"""the per-organization cap on model work in flight: tasks.held_since

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 18:00:00

A task refused a slot by its organization's cap (PARLEY_ORG_MAX_IN_FLIGHT) waits,
PENDING, with `held_since` set, until one of the organization's running tasks ends.
A new nullable column (no existing row is held), a partial index over the held tasks
only (the hand-over and the sweep read it), and one over (org_id, state) for the count
of an organization's running tasks.
"""
from alembic import op
import sqlalchemy as sa

from app.models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

HELD = sa.text('held_since IS NOT NULL')


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_since', UTCDateTime(timezone=True), nullable=True))
    op.create_index('ix_tasks_org_id_state', 'tasks', ['org_id', 'state'])
    op.create_index('ix_tasks_held', 'tasks', ['org_id', 'held_since'],
                    postgresql_where=HELD, sqlite_where=HELD)


def downgrade():
    op.drop_index('ix_tasks_held', table_name='tasks')
    op.drop_index('ix_tasks_org_id_state', table_name='tasks')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('held_since')
