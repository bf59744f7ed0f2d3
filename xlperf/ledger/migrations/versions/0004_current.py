"""which return is current: submissions get the file's saved time, the message's date and a digest of the values

Revision ID: 0004_current
Revises: 0004_roster_version
Create Date: 2026-12-06

Issue 21 (an older file won, a unit counted twice): the order of two versions of a return is
taken from the file's own evidence (its docProps/core.xml modified time, else the Date of the
message that brought it), never from arrival order; the same values received again under other
bytes (an auto-responder's echo) are a repeat, told by ``content_digest``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_current'
down_revision = '0004_sendclaims'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('units', sa.Column('in_roster', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column('submissions', sa.Column('saved_at', sa.DateTime(), nullable=True))
    op.add_column('submissions', sa.Column('sent_at', sa.DateTime(), nullable=True))
    op.add_column('submissions', sa.Column('content_digest', sa.String(length=64), nullable=False,
                                           server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('submissions') as batch:
        batch.drop_column('content_digest')
        batch.drop_column('sent_at')
        batch.drop_column('saved_at')
    with op.batch_alter_table('units') as batch:
        batch.drop_column('in_roster')
