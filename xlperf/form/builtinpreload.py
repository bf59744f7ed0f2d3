"""Imported by the fork server of checking workers (:func:`xlperf.workers.run.run_limited`'s
``preload``; :data:`xlperf.form.registry.BUILTIN_PRELOAD` names it): the built-in forms and their
layouts loaded once there, so that every worker forked from it starts with them instead of
loading them on its first file (a tenth of a second of CPU per worker and form)."""

from xlperf.form.registry import builtin_forms, builtin_layout


def load_builtin_forms() -> None:
    try:
        for form_id in builtin_forms():
            builtin_layout(form_id)
    except Exception:  # noqa: BLE001 - only a head start: a broken form is reported by the check itself
        pass


load_builtin_forms()
