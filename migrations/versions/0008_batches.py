"""batches: many questions submitted at once

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:40:00

New tables batches (one per POST /api/batches) and batch_requests (each request's
place in the input and custom id, and its task), and tasks.batch_id (NULL for every
existing row: none came in a batch), indexed with the state for a batch's counts.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON_VALUE = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('metadata', JSON_VALUE, nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('canceled_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_batches_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batches')),
    sa.UniqueConstraint('public_id', name=op.f('uq_batches_public_id'))
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index('ix_batches_org_id_id', ['org_id', 'id'], unique=False)

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_tasks_batch_id_state', ['batch_id', 'state'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_tasks_batch_id_batches'), 'batches',
                                    ['batch_id'], ['id'])

    op.create_table('batch_requests',
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('custom_id', sa.String(length=64), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_batch_requests_batch_id_batches')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_batch_requests_task_id_tasks')),
    sa.PrimaryKeyConstraint('batch_id', 'position', name=op.f('pk_batch_requests')),
    sa.UniqueConstraint('task_id', name=op.f('uq_batch_requests_task_id'))
    )


def downgrade():
    op.drop_table('batch_requests')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tasks_batch_id_batches'), type_='foreignkey')
        batch_op.drop_index('ix_tasks_batch_id_state')
        batch_op.drop_column('batch_id')

    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index('ix_batches_org_id_id')

    op.drop_table('batches')
