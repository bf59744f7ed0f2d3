"""整改 items: rectify_items

Revision ID: 0008_rectify
Revises: 0007_round_chain
Create Date: 2026-12-06

Issue 24, "整改 tracked to the end": a 整改 round (``round new NAME --rectify EARLIER``) keeps the
problems it was opened for, one row each, per unit and project: the findings of the project's
current return in EARLIER and the staff's notes when it was sent back. They are fixed when the
round is made (what the issued 整改 forms list, row by row), whatever EARLIER records later, and
the round's status follows each of them until it is 已完成.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_rectify'
down_revision = '0007_round_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rectify_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('project', sa.Text(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['submissions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('round_id', 'unit_id', 'project', 'n', name='uq_rectify_item')
    )
    op.create_index(op.f('ix_rectify_items_round_id'), 'rectify_items', ['round_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_rectify_items_round_id'), table_name='rectify_items')
    op.drop_table('rectify_items')
