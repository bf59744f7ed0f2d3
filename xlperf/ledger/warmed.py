"""Imported by the fork server of the desk's checking workers
(:class:`xlperf.checks.limited.WorkerPool`, its ``preload``): the checks, and the built-in forms
and their layouts loaded once (:func:`xlperf.ledger.round_checks.warm`), so that every worker forked
from it starts with them instead of loading them on its first file."""

from xlperf.ledger.round_checks import warm

warm()
