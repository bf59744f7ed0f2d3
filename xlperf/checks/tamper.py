"""Checks: tamper (to be filled in)."""

from __future__ import annotations

from xlperf.checks.base import Check

CHECKS: tuple[Check, ...] = ()
