"""results: one JSON of the checked return (checked_json, version 2); record_json is folded into it

Revision ID: 0005_checked_return
Revises: 0005_round_form
Create Date: 2026-12-06

Issue 20 (one type for a checked return): a result was stored as ``checked_json`` (values,
scores, notes), ``record_json`` (projects, indicators, total score, grade) and the identity in
columns, read back by two codecs. Now the ledger stores :class:`xlperf.findings.CheckedReturn`'s
one JSON form (plus finding rows); this migration rewrites every stored result into it with the
type's own upgrade (:func:`xlperf.findings.checked_return.from_version_1`), and back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from xlperf.findings.checked_return import from_version_1, to_version_1

revision = '0005_checked_return'
down_revision = '0005_round_form'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    conn = op.get_bind()
    rows = sa.text("SELECT r.id, r.checked_json, r.record_json, r.form_version, s.form, s.unit_name, s.year "
                   "FROM results r JOIN submissions s ON s.id = r.submission_id WHERE r.id > :after "
                   "ORDER BY r.id LIMIT :n")
    update = sa.text("UPDATE results SET checked_json = :text WHERE id = :id")
    after = 0
    while batch := conn.execute(rows, {"after": after, "n": BATCH}).all():
        conn.execute(update, [{"id": rid, "text": from_version_1(checked, record, form=form, form_version=version,
                                                                   unit=unit or None, year=year)}
                              for rid, checked, record, version, form, unit, year in batch])
        after = batch[-1][0]
    # In place (SQLite 3.35+, PostgreSQL): a batch copy of ``results`` would drop the table its
    # finding rows point at, which SQLite's foreign keys refuse.
    op.execute("ALTER TABLE results DROP COLUMN record_json")


def downgrade() -> None:
    op.add_column('results', sa.Column('record_json', sa.Text(), nullable=False, server_default='{}'))
    conn = op.get_bind()
    rows = sa.text("SELECT id, checked_json FROM results WHERE id > :after ORDER BY id LIMIT :n")
    update = sa.text("UPDATE results SET checked_json = :checked, record_json = :record WHERE id = :id")
    after = 0
    while batch := conn.execute(rows, {"after": after, "n": BATCH}).all():
        conn.execute(update, [dict(zip(("checked", "record"), to_version_1(text), strict=True), id=rid)
                              for rid, text in batch])
        after = batch[-1][0]
