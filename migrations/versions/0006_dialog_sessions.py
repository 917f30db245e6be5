"""dialog sessions, jobs and briefing resources

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 08:28:08.192492

The dialog sessions face: conversations.face (NULL for every existing row: the faces
share it), and new tables: dialog_sessions (a session, its briefing
and its owner key; its messages are the core's, in a conversation of its own), jobs
(what a confirmed session becomes; its state is its task's) and briefing_resources
(glossaries, style references, presets and templates). No existing row changes.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON_VALUE = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # A conversation owned by one face (a dialog session's), which the others never find.
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('face', sa.String(length=32), nullable=True))

    op.create_table('briefing_resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('data', JSON_VALUE, nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_briefing_resources_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_briefing_resources')),
    sa.UniqueConstraint('public_id', name=op.f('uq_briefing_resources_public_id'))
    )
    with op.batch_alter_table('briefing_resources', schema=None) as batch_op:
        batch_op.create_index('ix_briefing_resources_org_id_kind_id', ['org_id', 'kind', 'id'], unique=False)

    op.create_table('dialog_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('phase', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('briefing', JSON_VALUE, nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('file_type', sa.String(length=255), nullable=True),
    sa.Column('file_preview', sa.Text(), nullable=True),
    sa.Column('user_messages', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_dialog_sessions_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], name=op.f('fk_dialog_sessions_key_id_api_keys')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_dialog_sessions_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dialog_sessions')),
    sa.UniqueConstraint('conversation_id', name=op.f('uq_dialog_sessions_conversation_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_dialog_sessions_public_id'))
    )
    with op.batch_alter_table('dialog_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_dialog_sessions_org_id_created_at', ['org_id', 'created_at'], unique=False)
        batch_op.create_index('ix_dialog_sessions_org_id_status', ['org_id', 'status'], unique=False)
        batch_op.create_index('ix_dialog_sessions_status_expires_at', ['status', 'expires_at'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('briefing', JSON_VALUE, nullable=False),
    sa.Column('template_id', sa.String(length=32), nullable=True),
    sa.Column('result', JSON_VALUE, nullable=True),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=True),
    sa.Column('output_tokens', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], name=op.f('fk_jobs_key_id_api_keys')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_jobs_org_id_organizations')),
    sa.ForeignKeyConstraint(['session_id'], ['dialog_sessions.id'], name=op.f('fk_jobs_session_id_dialog_sessions')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_jobs_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('public_id', name=op.f('uq_jobs_public_id')),
    sa.UniqueConstraint('session_id', name=op.f('uq_jobs_session_id')),
    sa.UniqueConstraint('task_id', name=op.f('uq_jobs_task_id'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_org_id_key_id_id', ['org_id', 'key_id', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_org_id_key_id_id')

    op.drop_table('jobs')
    with op.batch_alter_table('dialog_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_dialog_sessions_status_expires_at')
        batch_op.drop_index('ix_dialog_sessions_org_id_status')
        batch_op.drop_index('ix_dialog_sessions_org_id_created_at')

    op.drop_table('dialog_sessions')
    with op.batch_alter_table('briefing_resources', schema=None) as batch_op:
        batch_op.drop_index('ix_briefing_resources_org_id_kind_id')

    op.drop_table('briefing_resources')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('face')
