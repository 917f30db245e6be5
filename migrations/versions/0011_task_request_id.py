"""tasks.request_id: the request that caused a task

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 18:00:00

The id of the HTTP request that created a task (a task a worker adds, such as a webhook
delivery, takes the id of the task that caused it): sent with every message of the task,
so the worker's log lines for it carry it. A new nullable column: existing rows survive
unchanged, with no request id (none was recorded).
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('request_id')
