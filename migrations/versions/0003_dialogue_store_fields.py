"""dialogue store fields

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 00:06:50.529937

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON_VALUE = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # Every conversation is a dialogue too: the new NOT NULL columns are added
    # nullable, filled for the rows that exist, then made NOT NULL.
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('namespace', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('thread_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('label', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('tags', JSON_VALUE, nullable=True))
        batch_op.add_column(sa.Column('state', JSON_VALUE, nullable=True))
        batch_op.add_column(sa.Column('metadata', JSON_VALUE, nullable=True))
        batch_op.add_column(sa.Column('summarized_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('updated_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', UTCDateTime(timezone=True), nullable=True))
        # Dialogue ids are unique within an organization, not across them.
        batch_op.drop_constraint(batch_op.f('uq_conversations_public_id'), type_='unique')
        batch_op.create_index('ix_conversations_org_id_started_at_id', ['org_id', 'started_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversations_parent_id'), ['parent_id'], unique=False)
        batch_op.create_unique_constraint('uq_conversations_org_id_public_id', ['org_id', 'public_id'])
        batch_op.create_foreign_key(batch_op.f('fk_conversations_parent_id_conversations'), 'conversations', ['parent_id'], ['id'])
    op.execute("UPDATE conversations SET tags = '[]', state = '{}', metadata = '{}', "
               "updated_at = started_at")
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        for column in ('tags', 'state', 'metadata'):
            batch_op.alter_column(column, existing_type=JSON_VALUE, nullable=False)
        batch_op.alter_column('updated_at', existing_type=UTCDateTime(timezone=True),
                              nullable=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('tags', JSON_VALUE, nullable=True))
        batch_op.add_column(sa.Column('metadata', JSON_VALUE, nullable=True))
        batch_op.create_unique_constraint('uq_messages_conversation_id_public_id', ['conversation_id', 'public_id'])
        # The dialogue store stores system messages too.
        batch_op.drop_constraint(batch_op.f('ck_messages_role'), type_='check')
        batch_op.create_check_constraint('role', "role IN ('user', 'agent', 'system')")
    op.execute("UPDATE messages SET public_id = 'msg_' || id")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=64), nullable=False)

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dialogues_immutable', sa.Boolean(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('dialogues_immutable')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint('uq_messages_conversation_id_public_id', type_='unique')
        batch_op.drop_constraint(batch_op.f('ck_messages_role'), type_='check')
        batch_op.create_check_constraint('role', "role IN ('user', 'agent')")
        batch_op.drop_column('metadata')
        batch_op.drop_column('tags')
        batch_op.drop_column('name')
        batch_op.drop_column('public_id')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_conversations_parent_id_conversations'), type_='foreignkey')
        batch_op.drop_constraint('uq_conversations_org_id_public_id', type_='unique')
        batch_op.drop_index(batch_op.f('ix_conversations_parent_id'))
        batch_op.drop_index('ix_conversations_org_id_started_at_id')
        batch_op.create_unique_constraint(batch_op.f('uq_conversations_public_id'), ['public_id'])
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('summarized_at')
        batch_op.drop_column('metadata')
        batch_op.drop_column('state')
        batch_op.drop_column('tags')
        batch_op.drop_column('label')
        batch_op.drop_column('status')
        batch_op.drop_column('thread_count')
        batch_op.drop_column('parent_id')
        batch_op.drop_column('namespace')

