"""结果应用 settings of a round: rounds.results_rules (the consequence and budget factor per grade)

Revision ID: 0006_results_rules
Revises: 0005_checked_return
Create Date: 2026-12-06

Issue 24: a round's grades lead to a consequence for next year's budget (优 → 优先保障 …), which
the bureau sets per round (``xlperf round consequence``, the desk's 结果应用 page). The column
holds the settings as JSON (:mod:`xlperf.ledger.results`); empty: the defaults.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_results_rules'
down_revision = '0005_checked_return'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('rounds', sa.Column('results_rules', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+, PostgreSQL): batch mode's copy of `rounds` cannot be
    # renamed back into place under the `units` triggers that name `rounds`.
    op.drop_column('rounds', 'results_rules')
