"""a round keeps its form: rounds.form_spec (the spec's text) and rounds.form_hash (its SHA-256)

Revision ID: 0005_round_form
Revises: 0004_current
Create Date: 2026-12-06

Issue 22: a round named its form by id only, so every later check used whatever spec the
package or the forms folder held then. Now the round stores the spec's text. Rounds made before
this could only use the specs shipped in the package; they get the text of the shipped spec of
their form as installed when the ledger is upgraded (the nearest to what they were made with; a
round whose form is not shipped keeps an empty text and is checked with the form of that id
xlperf knows, as before).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
import yaml
from alembic import op

from xlperf.form.specload import FORMS_DIR

revision = '0005_round_form'
down_revision = '0004_current'
branch_labels = None
depends_on = None


def _shipped_specs() -> dict[str, str]:
    """Form id -> text of the specs shipped in the package (read here, not through the registry:
    a bureau's forms folder is not what older rounds were made with)."""
    specs = {}
    for path in sorted(FORMS_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        form_id = (yaml.safe_load(text) or {}).get("form")
        if isinstance(form_id, str):
            specs[form_id] = text
    return specs


def upgrade() -> None:
    op.add_column('rounds', sa.Column('form_spec', sa.Text(), nullable=False, server_default=''))
    op.add_column('rounds', sa.Column('form_hash', sa.String(length=64), nullable=False, server_default=''))
    rounds = sa.table('rounds', sa.column('id', sa.Integer), sa.column('form', sa.String),
                      sa.column('form_spec', sa.Text), sa.column('form_hash', sa.String))
    conn = op.get_bind()
    for form_id, text in _shipped_specs().items():
        conn.execute(rounds.update().where(rounds.c.form == form_id)
                     .values(form_spec=text, form_hash=hashlib.sha256(text.encode("utf-8")).hexdigest()))


def downgrade() -> None:
    with op.batch_alter_table('rounds') as batch:
        batch.drop_column('form_hash')
        batch.drop_column('form_spec')
