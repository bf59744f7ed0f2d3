"""Rounds: the list, and a new round from a form (roster uploaded, its problems shown)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from pathlib import Path

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xlperf.form.registry import builtin_forms
from xlperf.ledger import LedgerError, create_round, list_rounds, round_status
from xlperf.ledger.roundform import form_label
from xlperf.ledger.rounds import MAX_ROUND_NAME, round_name
from xlperf.read.roster import Roster, RosterError, read_roster
from xlperf.web.auth import action
from xlperf.web.paths import to
from xlperf.web.render import page
from xlperf.web.state import base_name, ledger_of
from xlperf.web.users import User

ROSTER_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls")


def _forms() -> list[tuple[str, str]]:
    return [(form_id, spec.title) for form_id, spec in builtin_forms().items()]


def rounds_page(request: Request) -> Response:
    with ledger_of(request).session() as session:
        rounds = [(rnd, round_status(session, rnd)) for rnd in list_rounds(session)]
        rows = [{"id": rnd.id, "name": rnd.name, "form": form_label(rnd), "year": rnd.year, "deadline": rnd.deadline, "progress": status.progress(),
                 "units": len(status.rows), "counts": status.counts()} for rnd, status in rounds]
    return page(request, "rounds.html", rounds=rows)


def new_round_page(request: Request) -> Response:
    return page(request, "round_new.html", forms=_forms(),
                values={"name": "", "form": "", "year": str(dt.date.today().year), "deadline": ""},
                problems=[], error="", max_name=MAX_ROUND_NAME)


def _read_uploaded_roster(upload: UploadFile, data: bytes) -> Roster:
    name = base_name(upload.filename, "roster.csv")
    if not name.lower().endswith(ROSTER_SUFFIXES):
        raise RosterError([f"{name}：单位名单应为 .csv 或 .xlsx 文件"])
    with tempfile.TemporaryDirectory(prefix="xlperf-roster-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        roster = read_roster(path)
    return dataclasses.replace(roster, path=Path(name))


async def create_round_action(request: Request, form: FormData, user: User) -> Response:
    values = {k: str(form.get(k, "")).strip() for k in ("name", "form", "year", "deadline")}
    problems: list[str] = []
    error = ""
    upload = form.get("roster")
    year = int(values["year"]) if values["year"].isdigit() else None
    deadline = None
    if name_error := _name_error(values):
        error = name_error
    elif values["form"] not in builtin_forms():
        error = "请选择表单。"
    elif year is None or not 1990 <= year <= 2200:
        error = "年度应为 1990 至 2200 之间的四位数字。"
    elif not isinstance(upload, UploadFile) or not upload.filename:
        error = "请选择单位名单文件（.csv 或 .xlsx）。"
    if not error and values["deadline"]:
        try:
            deadline = dt.date.fromisoformat(values["deadline"])
        except ValueError:
            error = "截止日期应为 YYYY-MM-DD。"
    if not error:
        assert isinstance(upload, UploadFile) and year is not None
        data = await upload.read()
        try:
            roster = _read_uploaded_roster(upload, data)
        except RosterError as exc:
            problems = exc.problems
            error = "单位名单有误，请改正后重新上传："
        else:
            ledger = ledger_of(request)
            ledger.store.put(data)  # the roster as received is kept like any file
            try:
                with ledger.session() as session, session.begin():
                    rnd = create_round(session, values["name"], values["form"], year, roster,
                                       deadline=deadline, actor=user.name)
                    round_id = rnd.id
            except LedgerError as exc:
                error = str(exc)
            else:
                return RedirectResponse(to(request, f"/rounds/{round_id}"), status_code=303)
    return page(request, "round_new.html", status_code=400, forms=_forms(), values=values, problems=problems,
                error=error, max_name=MAX_ROUND_NAME)


def _name_error(values: dict[str, str]) -> str:
    """What is wrong with the typed name, by the rule ``xlperf round new`` applies too ("": nothing)."""
    try:
        values["name"] = round_name(values["name"])
    except LedgerError as exc:
        return f"{exc}。"
    return ""


create_round_endpoint = action(create_round_action)


async def home(request: Request) -> Response:
    return RedirectResponse(to(request, "/rounds"), status_code=303)
