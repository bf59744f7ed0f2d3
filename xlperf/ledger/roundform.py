"""The form a round keeps: the text of its spec, stored when the round is made (``round new
--form ID|SPEC.yaml``) and changed only by ``round revalidate --form SPEC.yaml``.

Every check of the round's files pins this spec (:func:`xlperf.form.registry.pinned`): intake
from a folder, an upload or the mailbox, the watcher, a revalidation, the desk's views. A round
with no stored text (one whose form was not shipped with xlperf when the ledger was upgraded,
migration 0005_round_form) uses the form of that id that xlperf knows now.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

from xlperf.form.registry import Known, builtin_forms, pinned, spec_of_text
from xlperf.form.spec import FormSpec
from xlperf.form.yamlsrc import SpecError
from xlperf.ledger.db import LedgerError, lock_round
from xlperf.ledger.models import Round
from xlperf.ledger.rounds import log_event

__all__ = ["change_form", "form_label", "round_form", "round_pinned", "round_spec", "short_hash"]


def round_form(rnd: Round) -> Known | None:
    """The spec ``rnd`` keeps (None: it keeps none, see above)."""
    if not rnd.form_spec:
        return None
    try:
        return spec_of_text(rnd.form_spec, f"{rnd.form}.yaml", source=f"报送任务“{rnd.name}”")
    except SpecError as exc:  # stored by an older xlperf that accepted it: say which round
        raise LedgerError(f"报送任务“{rnd.name}”保存的表单规格无法载入：{exc}") from None


def round_spec(rnd: Round) -> FormSpec | None:
    """The spec of ``rnd``'s form: the one it keeps, else the form of that id xlperf knows (None: none)."""
    form = round_form(rnd)
    return form.spec if form is not None else builtin_forms().get(rnd.form)


def round_pinned(rnd: Round) -> AbstractContextManager[None]:
    """Within the block, the round's form id means the spec the round keeps."""
    return pinned(round_form(rnd))


def short_hash(digest: str) -> str:
    return digest[:12]


def form_label(rnd: Round) -> str:
    """The form version a round uses, as the desk and ``round list`` show it: title, version, short hash."""
    form = round_form(rnd)
    if form is None:
        return rnd.form
    return f"{form.spec.title}（版本 {form.spec.version}，规格 {short_hash(form.digest)}）"


def change_form(session: Session, rnd: Round, form: Known, actor: str = "") -> bool:
    """Make ``form`` the spec ``rnd`` keeps (the caller commits, then revalidates); the event in
    the round's history names the old and the new hash. False when it keeps that spec already."""
    if form.spec.form_id != rnd.form:
        raise LedgerError(f"表单规格“{form.source}”是表单“{form.spec.form_id}”，而报送任务“{rnd.name}”收集的是"
                          f"“{rnd.form}”：只能换成同一表单（表单编号相同）的另一版本")
    lock_round(session, rnd.id)
    if rnd.form_hash == form.digest:
        return False
    old = rnd.form_hash or "（无）"
    rnd.form_spec, rnd.form_hash = form.text, form.digest
    log_event(session, rnd.id, "form_changed", actor=actor,
              note=f"表单规格更换为“{form.spec.title}”版本 {form.spec.version}（来自 {form.source}）："
                   f"{old} → {form.digest}")
    return True
