"""The ledger's schema: made by the migrations shipped in the package, equal to the models, and
found where the user expects it (``--db``, ``XLPERF_DB``, or ``xlperf.db`` in the current folder)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from ledger_support import FORM, LedgerDb, write_roster
from sqlalchemy import create_engine, inspect, select, text

from xlperf.cli import main
from xlperf.ledger import open_ledger
from xlperf.ledger.db import HEAD, MIGRATIONS
from xlperf.ledger.models import Base, Reply


def test_migrations_make_the_models_schema(db: LedgerDb) -> None:
    ledger = db.open()
    with ledger.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert MigrationContext.configure(conn).get_current_revision() == HEAD
        assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == HEAD
        tables = set(inspect(conn).get_table_names())
    assert {"rounds", "units", "files", "submissions", "results", "findings", "decisions", "replies",
            "events", "mail_messages", "alembic_version"} <= tables
    ledger.close()
    db.open().close()  # opening an up-to-date ledger again migrates nothing and fails nothing


def migration_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def test_a_first_version_ledger_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    """A ledger made before the mail intake (revision 0001) keeps its replies and gains the columns."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = migration_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(text("INSERT INTO rounds (name, form, year, template_versions, signatures_required, "
                          "roster_file, created_at, created_by) VALUES ('r', 'f', 2024, '[]', 0, '', '2024-01-01', '')"))
        conn.execute(text("INSERT INTO replies (round_id, recipient, digest, submissions, outcome, subject, "
                          "message_id, error, at) VALUES (1, 'a@b.cn', 'd', '[]', 'sent', 's', '<m>', '', '2024-01-02')"))
    engine.dispose()
    ledger = open_ledger(url, tmp_path / "files")
    with ledger.session() as session:
        [reply] = session.scalars(select(Reply)).all()
        assert (reply.recipient, reply.kind, reply.mail_id, reply.tries) == ("a@b.cn", "", None, 0)
    ledger.close()


def test_default_database_is_xlperf_db_in_the_current_folder(tmp_path: Path) -> None:
    roster = write_roster(tmp_path)
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path) as here:
        env = {"XLPERF_DB": None, "XLPERF_STORE": None}
        result = runner.invoke(main, ["round", "new", "r", "--form", FORM, "--year", "2024", "--roster", str(roster)], env=env)
        assert result.exit_code == 0, result.output
        assert (Path(here) / "xlperf.db").is_file()
        other = Path(here) / "sub" / "other.db"
        result = runner.invoke(main, ["round", "list"], env={**env, "XLPERF_DB": str(other)})
        assert "还没有报送任务" in result.output and other.is_file()
        assert os.path.isfile(Path(here) / "xlperf.db")
