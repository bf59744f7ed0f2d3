"""Imported by the fork server of the ledger's checking workers (:class:`xlperf.workers.pool.WorkerPool`'s
``preload``: the desk's and the watcher's): the checks (:mod:`xlperf.checks.check_files`), and
the built-in forms and their layouts loaded once (:mod:`xlperf.form.builtinpreload`), so that
every worker forked from it starts with them instead of loading them on its first file."""

import xlperf.checks.check_files
import xlperf.form.builtinpreload  # noqa: F401 - imported for what importing it loads
