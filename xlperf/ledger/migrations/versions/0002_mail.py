"""mail intake: mail_messages; replies get kind, mail_id and tries

Revision ID: 0002_mail
Revises: 0001
Create Date: 2026-11-30

Issue 14 (returns by e-mail): every message taken from the mailbox, known by Message-ID per
round; replies to them (and reminders) recorded in replies with their kind, the message they
answer and how many times sending was tried.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002_mail'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mail_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=300), nullable=False),
    sa.Column('sender_name', sa.String(length=300), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('thread', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('submissions', sa.Text(), nullable=False),
    sa.Column('files', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('round_id', 'message_id', name='uq_mail_message')
    )
    op.create_index(op.f('ix_mail_messages_digest'), 'mail_messages', ['digest'], unique=False)
    op.create_index(op.f('ix_mail_messages_round_id'), 'mail_messages', ['round_id'], unique=False)
    op.create_index(op.f('ix_mail_messages_unit_id'), 'mail_messages', ['unit_id'], unique=False)
    op.add_column('replies', sa.Column('kind', sa.String(length=20), nullable=False, server_default=''))
    op.add_column('replies', sa.Column('mail_id', sa.Integer(), nullable=True))
    op.add_column('replies', sa.Column('tries', sa.Integer(), nullable=False, server_default='0'))
    op.create_index(op.f('ix_replies_mail_id'), 'replies', ['mail_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_replies_mail_id'), table_name='replies')
    with op.batch_alter_table('replies') as batch:
        batch.drop_column('tries')
        batch.drop_column('mail_id')
        batch.drop_column('kind')
    op.drop_index(op.f('ix_mail_messages_unit_id'), table_name='mail_messages')
    op.drop_index(op.f('ix_mail_messages_round_id'), table_name='mail_messages')
    op.drop_index(op.f('ix_mail_messages_digest'), table_name='mail_messages')
    op.drop_table('mail_messages')
