"""Alembic environment: always run programmatically by :func:`xlperf.ledger.db.migrate` with a
connection already open (``config.attributes["connection"]``); no alembic.ini is involved."""

from __future__ import annotations

from alembic import context

from xlperf.ledger.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
context.run_migrations()
