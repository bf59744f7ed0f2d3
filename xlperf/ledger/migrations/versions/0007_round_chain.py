"""Rounds that follow rounds: rounds.follows_id and rounds.follows_kind

Revision ID: 0007_round_chain
Revises: 0006_results_rules
Create Date: 2026-12-06

Issue 24: a bureau's year is one chain of rounds (目标申报 → 运行监控 → 自评, then 整改). A round
made with ``round new --from-round EARLIER`` follows EARLIER (kind "chain": its templates are
prefilled from EARLIER's accepted returns and its returns are checked against them); one made with
``round new --rectify EARLIER`` is EARLIER's 整改 round (kind "rectify"). No foreign key: rounds
are never deleted, and SQLite cannot add one to an existing table without copying it (which the
``units`` triggers that name ``rounds`` forbid, see 0006's downgrade).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_round_chain'
down_revision = '0006_results_rules'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('rounds', sa.Column('follows_id', sa.Integer(), nullable=True))
    op.add_column('rounds', sa.Column('follows_kind', sa.String(length=20), nullable=False, server_default=''))


def downgrade() -> None:
    op.drop_column('rounds', 'follows_kind')
    op.drop_column('rounds', 'follows_id')
