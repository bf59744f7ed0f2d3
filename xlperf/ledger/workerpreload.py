"""Imported by the fork server of the ledger's checking workers (:class:`xlperf.workers.pool.WorkerPool`'s
``preload``: the desk's and the watcher's): the checks, and the built-in forms and their layouts
loaded once (:func:`xlperf.ledger.checking.warm`), so that every worker forked from it starts
with them instead of loading them on its first file."""

from xlperf.ledger.checking import warm

warm()
