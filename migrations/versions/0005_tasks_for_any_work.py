"""a task row for any kind of work: its kind and the worker holding its claim; the
reply's own ids move to the question it answers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 03:40:00

- tasks.name (the Celery task name) becomes tasks.kind ('parley.reply' -> 'reply',
  'parley.compact' -> 'compact'); the registry maps a kind to its task and queue.
- tasks.worker: the worker process holding the claim (or to publish the message) of
  an unfinished task, indexed for the sweep.
- tasks.conversation_id may be NULL (work about no conversation).
- tasks.data_set_id moves to the question (messages.data_set_id); tasks.chat_session_id
  was on the question already; tasks.reply_message_id is the message whose
  reply_to_id is the task's question, so it is dropped.
Every row survives; downgrade puts the columns back, filled from where they moved.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

KINDS = {"parley.reply": "reply", "parley.compact": "compact"}


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_set_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_messages_data_set_id_data_sets'),
                                    'data_sets', ['data_set_id'], ['id'])
    # The data set each question was answered from, and the session that asked it
    # where the question lacks it.
    op.execute("UPDATE messages SET data_set_id = (SELECT t.data_set_id FROM tasks t "
               "WHERE t.message_id = messages.id) "
               "WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.message_id = messages.id)")
    op.execute("UPDATE messages SET chat_session_id = (SELECT t.chat_session_id FROM tasks t "
               "WHERE t.message_id = messages.id) WHERE chat_session_id IS NULL "
               "AND EXISTS (SELECT 1 FROM tasks t WHERE t.message_id = messages.id "
               "AND t.chat_session_id IS NOT NULL)")

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('worker', sa.String(length=128), nullable=True))
    for name, kind in KINDS.items():
        op.execute(sa.text("UPDATE tasks SET kind = :kind WHERE name = :name")
                   .bindparams(kind=kind, name=name))
    # A name no release of Parley wrote: keep it, as the kind, so nothing is lost.
    op.execute("UPDATE tasks SET kind = name WHERE kind IS NULL")

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('conversation_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint('fk_tasks_data_set_id_data_sets', type_='foreignkey')
        batch_op.drop_constraint('fk_tasks_reply_message_id_messages', type_='foreignkey')
        batch_op.drop_constraint('fk_tasks_chat_session_id_chat_sessions', type_='foreignkey')
        batch_op.drop_column('data_set_id')
        batch_op.drop_column('reply_message_id')
        batch_op.drop_column('chat_session_id')
        batch_op.drop_column('name')
        batch_op.create_index(batch_op.f('ix_tasks_worker'), ['worker'], unique=False)


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_worker'))
        batch_op.add_column(sa.Column('name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('chat_session_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('reply_message_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('data_set_id', sa.Integer(), nullable=True))
    for name, kind in KINDS.items():
        op.execute(sa.text("UPDATE tasks SET name = :name WHERE kind = :kind")
                   .bindparams(kind=kind, name=name))
    op.execute("UPDATE tasks SET name = kind WHERE name IS NULL")
    op.execute("UPDATE tasks SET "
               "data_set_id = (SELECT m.data_set_id FROM messages m WHERE m.id = tasks.message_id), "
               "chat_session_id = (SELECT m.chat_session_id FROM messages m "
               "WHERE m.id = tasks.message_id), "
               "reply_message_id = (SELECT r.id FROM messages r "
               "WHERE r.reply_to_id = tasks.message_id) "
               "WHERE message_id IS NOT NULL")
    # Tasks about no conversation cannot exist in the older schema.
    op.execute("DELETE FROM tasks WHERE conversation_id IS NULL")
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.alter_column('name', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('conversation_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_tasks_data_set_id_data_sets', 'data_sets',
                                    ['data_set_id'], ['id'])
        batch_op.create_foreign_key('fk_tasks_reply_message_id_messages', 'messages',
                                    ['reply_message_id'], ['id'])
        batch_op.create_foreign_key('fk_tasks_chat_session_id_chat_sessions', 'chat_sessions',
                                    ['chat_session_id'], ['id'])
        batch_op.drop_column('worker')
        batch_op.drop_column('kind')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_messages_data_set_id_data_sets'),
                                 type_='foreignkey')
        batch_op.drop_column('data_set_id')
