"""sendclaims: a reply is claimed in the database before it is sent

Revision ID: 0004_sendclaims
Revises: 0004_mail_digest
Create Date: 2026-12-06

``replies.claim`` holds the message's send key (kind, exactly its recipients, what it says); the
unique index on (round_id, claim) lets only one of two runs at once insert it, on SQLite and
PostgreSQL alike. Rows written before have no claim (NULLs never collide).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_sendclaims'
down_revision = '0004_roster_version'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('replies') as batch:
        batch.add_column(sa.Column('claim', sa.String(length=64), nullable=True))
    op.create_index('ix_replies_claim', 'replies', ['round_id', 'claim'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_replies_claim', table_name='replies')
    with op.batch_alter_table('replies') as batch:
        batch.drop_column('claim')
