"""mail_messages: a message is known by Message-ID and content digest (issue 21.7: a second message
reusing a Message-ID was dropped unread)

Revision ID: 0004_mail_digest
Revises: 0003_users
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = '0004_mail_digest'
down_revision = '0003_users'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot drop a constraint in place (the table is copied).
    with op.batch_alter_table('mail_messages') as batch:
        batch.drop_constraint('uq_mail_message', type_='unique')
        batch.create_unique_constraint('uq_mail_message_digest', ['round_id', 'message_id', 'digest'])


def downgrade() -> None:
    with op.batch_alter_table('mail_messages') as batch:
        batch.drop_constraint('uq_mail_message_digest', type_='unique')
        batch.create_unique_constraint('uq_mail_message', ['round_id', 'message_id'])
