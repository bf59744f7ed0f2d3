"""A round keeps its form: ``round new --form SPEC.yaml`` stores the spec's text and hash, every
later check of the round uses it whatever the file or the forms folder holds, and only ``round
revalidate --form`` changes it (recorded with the old and new hash). SQLite and PostgreSQL."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from sqlalchemy import select

from xlperf.form.registry import pinned, spec_digest, spec_of_text
from xlperf.form.specload import FORMS_DIR
from xlperf.ledger import find_round
from xlperf.ledger.models import Event, Round
from xlperf.ledger.round_checks import round_check

BUILTIN_TEXT = (FORMS_DIR / f"{FORM}.yaml").read_text(encoding="utf-8")


def variant(version: str, title: str) -> str:
    """The built-in spec of FORM with another version and title (a bureau's edition of it)."""
    text = BUILTIN_TEXT.replace('version: "1.0"', f'version: "{version}"', 1)
    text = text.replace("title: 财政支出项目绩效自评表", f"title: {title}", 1)
    assert text.count(version) >= 1 and title in text
    return text


def statuses(db: LedgerDb, name: str) -> dict[str, str]:
    doc = json.loads(db.run("status", name, "--json").output)
    return {row["code"]: row["status"] for row in doc["rows"]}


def test_a_round_checks_with_the_spec_it_was_made_from(db: LedgerDb, tmp_path: Path) -> None:
    spec_file = tmp_path / "本局自评表.yaml"
    ours = variant("2026.1", "本局自评表")
    spec_file.write_text(ours, encoding="utf-8")
    roster = write_roster(tmp_path)
    made = db.run("new", "本局自评", "--form", str(spec_file), "--year", str(YEAR), "--roster", str(roster))
    assert "本局自评表（版本 2026.1）" in made.output
    with closing(db.open()) as ledger, ledger.session() as session:
        rnd = find_round(session, "本局自评")
        assert (rnd.form, rnd.form_spec, rnd.form_hash) == (FORM, ours, spec_digest(ours))

    with pinned(spec_of_text(ours, spec_file.name)):  # returns filled in templates of the bureau's spec
        make_return(tmp_path / "in1" / "东城.xlsx", "东城区科技局", age=100, **CLEAN)
        make_return(tmp_path / "in2" / "西山.xlsx", "西山县中小企业局", age=50, **CLEAN)
    db.run("intake", "本局自评", str(tmp_path / "in1"))
    assert statuses(db, "本局自评")["3001"] == "通过（有提示）"

    # The file is deleted, then a folder holds another edition of the form under its id: the
    # round still checks with what it stored (an intake, and a revalidation of what it has).
    spec_file.unlink()
    folder = tmp_path / "forms"
    folder.mkdir()
    newer = variant("2027", "本局自评表（新）")
    (folder / "自评表.yaml").write_text(newer, encoding="utf-8")
    env = {"XLPERF_FORMS": str(folder)}
    db.run("intake", "本局自评", str(tmp_path / "in2"), env=env)
    revalidated = db.run("revalidate", "本局自评", env=env)
    assert revalidated.output.splitlines()[-1] == "已重新审核 2 份，结果变化 0 份。"
    assert statuses(db, "本局自评") == {"3001": "通过（有提示）", "3002": "通过（有提示）", "3003": "未报送", "3004": "未报送"}
    listed = db.run("list", env=env).output
    assert f"本局自评  本局自评表（版本 2026.1，规格 {spec_digest(ours)[:12]}）  {YEAR}" in listed

    # Changing the form is an explicit step, in the round's history with both hashes.
    newer_file = folder / "自评表.yaml"
    changed = db.run("revalidate", "本局自评", "--form", str(newer_file), ok=(0, 1))
    assert f"本任务的表单：本局自评表（新）（版本 2027，规格 {spec_digest(newer)[:12]}）" in changed.output
    assert changed.output.splitlines()[-1] == "已重新审核 2 份，结果变化 2 份。"
    assert statuses(db, "本局自评")["3001"] == "退回"  # returns of edition 2026.1 against edition 2027
    with closing(db.open()) as ledger, ledger.session() as session:
        rnd = session.scalars(select(Round).where(Round.name == "本局自评")).one()
        assert (rnd.form_spec, rnd.form_hash) == (newer, spec_digest(newer))
        notes = session.scalars(select(Event.note).where(Event.round_id == rnd.id, Event.kind == "form_changed")).all()
        assert notes == [f"表单规格更换为“本局自评表（新）”版本 2027（来自 {newer_file.resolve()}）："
                         f"{spec_digest(ours)} → {spec_digest(newer)}"]
        assert round_check(session, rnd).form is not None and round_check(session, rnd).form.digest == spec_digest(newer)
    again = db.run("revalidate", "本局自评", "--form", str(newer_file), ok=(0, 1))
    assert "表单规格已更换" not in again.output  # the same spec: nothing to record


def test_a_round_made_by_id_stores_that_spec_and_refuses_another_form(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path)
    db.run("new", "按编号", "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    with closing(db.open()) as ledger, ledger.session() as session:
        rnd = find_round(session, "按编号")
        assert (rnd.form_spec, rnd.form_hash) == (BUILTIN_TEXT, spec_digest(BUILTIN_TEXT))
    other = tmp_path / "table.yaml"
    other.write_text((FORMS_DIR / "target_table.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    refused = db.run("revalidate", "按编号", "--form", str(other), ok=(2,))
    assert refused.output.splitlines()[-1] == (f"Error: 表单规格“{other.resolve()}”是表单“target_table”，而报送任务“按编号”"
                                               "收集的是“self_evaluation”：只能换成同一表单（表单编号相同）的另一版本")


def test_rounds_made_before_0005_get_the_shipped_spec_of_their_form(db: LedgerDb) -> None:
    """A ledger of revision 0004_current: its rounds named a form by id only. Upgraded, each gets
    the text of the package's spec of that form; a form the package does not ship keeps none."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from xlperf.ledger.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    url = db.url if "://" in db.url else f"sqlite:///{db.url}"
    engine = create_engine(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004_current")
        for name, form in (("旧任务", FORM), ("外来表单", "not_shipped")):
            conn.execute(text("INSERT INTO rounds (name, form, year, template_versions, signatures_required, roster_file, "
                              "created_at, created_by) VALUES (:n, :f, 2024, '[]', false, '', '2024-01-01', '')"),
                         {"n": name, "f": form})
    engine.dispose()
    with closing(db.open()) as ledger, ledger.session() as session:
        rows = session.execute(select(Round.name, Round.form_spec, Round.form_hash).order_by(Round.id)).all()
    assert [tuple(r) for r in rows] == [("旧任务", BUILTIN_TEXT, spec_digest(BUILTIN_TEXT)), ("外来表单", "", "")]


def test_the_desk_shows_the_kept_form_and_checks_uploads_with_it(db: LedgerDb, tmp_path: Path) -> None:
    """A round made from a spec file whose file then changed: the dashboard names the kept edition
    (title, version, short hash) and an upload is checked with it (the desk's own worker pool)."""
    from deskclient import csrf, signed_in_local

    spec_file = tmp_path / "本局自评表.yaml"
    ours = variant("2026.1", "本局自评表")
    spec_file.write_text(ours, encoding="utf-8")
    db.run("new", "台上", "--form", str(spec_file), "--year", str(YEAR), "--roster", str(write_roster(tmp_path)))
    spec_file.write_text(variant("2027", "改过的"), encoding="utf-8")
    with pinned(spec_of_text(ours, spec_file.name)):
        filled = make_return(tmp_path / "up" / "东城.xlsx", "东城区科技局", **CLEAN)
    ledger = db.open()
    try:
        client = signed_in_local(ledger)
        with ledger.session() as session:
            round_id = find_round(session, "台上").id
        response = client.post(f"/rounds/{round_id}/upload", data={"csrf_token": csrf(client)},
                               files=[("files", (filled.name, filled.read_bytes(), "application/octet-stream"))],
                               headers={"accept": "application/json"})
        assert response.status_code == 200, response.text
        label = f"本局自评表（版本 2026.1，规格 {spec_digest(ours)[:12]}）"
        assert label in client.get(f"/rounds/{round_id}").text and label in client.get("/rounds").text
    finally:
        ledger.close()
    assert statuses(db, "台上")["3001"] == "通过（有提示）"
