"""Every check, registered explicitly: each module lists its own in ``CHECKS``."""

from __future__ import annotations

from xlperf.checks import (
    consistency,
    crossform,
    dates,
    fields,
    identity,
    indicators,
    owncopy,
    progress,
    rowscores,
    scores,
    signature,
    tamper,
    text,
    types,
)
from xlperf.checks.base import Check, Context

CHECKS: tuple[Check, ...] = (
    *owncopy.CHECKS,
    *fields.CHECKS,
    *types.CHECKS,
    *consistency.CHECKS,
    *progress.CHECKS,
    *dates.CHECKS,
    *text.CHECKS,
    *indicators.CHECKS,
    *rowscores.CHECKS,
    *scores.CHECKS,
    *tamper.CHECKS,
    *signature.CHECKS,
    *identity.CHECKS,
    *crossform.CHECKS,
)

__all__ = ["CHECKS", "Check", "Context"]
