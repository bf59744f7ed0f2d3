"""roster version: rounds.roster_version, counted up by the database on every change to a round's units

Revision ID: 0004_roster_version
Revises: 0004_sessions
Create Date: 2026-12-06

What a process keeps of a round (its units by name, the checking workers' roster, the desk's
status) is keyed by this column, so a roster changed by any later command -- or by any SQL
statement -- is seen by the next upload and the next status. Triggers count it up, so no writer
of ``units`` can forget to: row triggers on SQLite; on PostgreSQL statement triggers with
transition tables, so that the 10,000 units of a new round update the round's row once.
A later migration that rebuilds ``units`` on SQLite (``batch_alter_table``: copy, drop, rename)
drops these triggers with the old table and must create them again
(tests/test_round_caches.py fails if they are missing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_roster_version'
down_revision = '0004_sessions'
branch_labels = None
depends_on = None

_EVENTS = (("insert", "INSERT", "NEW"), ("update", "UPDATE", "NEW"), ("delete", "DELETE", "OLD"))


def upgrade() -> None:
    op.add_column('rounds', sa.Column('roster_version', sa.Integer(), nullable=False, server_default='0'))
    if op.get_bind().dialect.name == "postgresql":
        for name, event, side in _EVENTS:
            op.execute(f"""
                CREATE FUNCTION units_roster_version_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE rounds SET roster_version = roster_version + 1
                    WHERE id IN (SELECT DISTINCT round_id FROM changed_units);
                    RETURN NULL;
                END $$""")
            op.execute(f"""
                CREATE TRIGGER units_roster_version_{name} AFTER {event} ON units
                REFERENCING {side} TABLE AS changed_units FOR EACH STATEMENT
                EXECUTE FUNCTION units_roster_version_{name}()""")
    else:
        for name, event, side in _EVENTS:
            op.execute(f"""
                CREATE TRIGGER units_roster_version_{name} AFTER {event} ON units FOR EACH ROW
                BEGIN
                    UPDATE rounds SET roster_version = roster_version + 1 WHERE id = {side}.round_id;
                END""")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, _, _ in _EVENTS:
        op.execute(f"DROP TRIGGER units_roster_version_{name}" + (" ON units" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION units_roster_version_{name}()")
    with op.batch_alter_table('rounds') as batch:
        batch.drop_column('roster_version')
