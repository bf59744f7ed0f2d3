"""E-mail each unit its validation reports (``xlperf mail``), and the one way every message of
xlperf is made and sent.

Modules: :mod:`reports` (a unit's reports, from a folder or rendered in memory), :mod:`message`
(the one place for headers and Message-IDs), :mod:`body` and :mod:`compose` (the report
message), :mod:`config` (SMTP settings and credentials), :mod:`send` (SMTP with rate limit and
retries), :mod:`outgo` (the one send loop, with a recorder), :mod:`sendlog` (the send log and its
recorder), :mod:`run` (the whole ``xlperf mail`` run).
"""

from __future__ import annotations

from xlperf.mail.compose import compose
from xlperf.mail.config import (
    PASSWORD_ENV,
    USER_ENV,
    ConfigError,
    SmtpConfig,
    read_config_file,
    sender_address,
    smtp_config,
)
from xlperf.mail.reports import OUTCOME_LABELS, Report, load_reports
from xlperf.mail.run import MailRun, UnitResult, Unmatched, group_by_unit, run_mail
from xlperf.mail.send import DEFAULT_RATE, Clock, SendAborted, SmtpSender, SystemClock
from xlperf.mail.sendlog import LOG_NAME, SendLog, SendLogBusy

__all__ = [
    "DEFAULT_RATE", "LOG_NAME", "OUTCOME_LABELS", "PASSWORD_ENV", "USER_ENV", "Clock", "ConfigError",
    "MailRun", "Report", "SendAborted", "SendLog", "SendLogBusy", "SmtpConfig", "SmtpSender", "SystemClock", "UnitResult",
    "Unmatched", "compose", "group_by_unit", "load_reports", "read_config_file", "run_mail",
    "sender_address", "smtp_config",
]
