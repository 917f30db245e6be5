"""a chat session's own data set: chat_sessions.data_set_id

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00

A chat session may name the data set its questions are answered from, overriding its
conversation's. A new nullable column: existing sessions keep answering from their
conversation's data set, as before.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_set_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_chat_sessions_data_set_id_data_sets'),
                                    'data_sets', ['data_set_id'], ['id'])


def downgrade():
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_chat_sessions_data_set_id_data_sets'),
                                 type_='foreignkey')
        batch_op.drop_column('data_set_id')
