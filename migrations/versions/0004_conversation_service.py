"""conversation service: language models, chat sessions, and which session and
model wrote each reply

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 00:37:49.335790

"""
from alembic import op
import sqlalchemy as sa

from app.models.base import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('language_models',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_language_models')),
    sa.UniqueConstraint('provider', 'name', name='uq_language_models_provider_name')
    )
    op.create_table('chat_sessions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_chat_sessions_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['model_id'], ['language_models.id'], name=op.f('fk_chat_sessions_model_id_language_models')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_chat_sessions_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_sessions'))
    )
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_sessions_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_sessions_org_id'), ['org_id'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chat_session_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('model_id', sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_messages_chat_session_id_chat_sessions'), 'chat_sessions', ['chat_session_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_messages_model_id_language_models'), 'language_models', ['model_id'], ['id'])

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chat_session_id', sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tasks_chat_session_id_chat_sessions'), 'chat_sessions', ['chat_session_id'], ['id'])



def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tasks_chat_session_id_chat_sessions'), type_='foreignkey')
        batch_op.drop_column('chat_session_id')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_messages_model_id_language_models'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_messages_chat_session_id_chat_sessions'), type_='foreignkey')
        batch_op.drop_column('model_id')
        batch_op.drop_column('chat_session_id')

    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_sessions_org_id'))
        batch_op.drop_index(batch_op.f('ix_chat_sessions_conversation_id'))

    op.drop_table('chat_sessions')
    op.drop_table('language_models')
