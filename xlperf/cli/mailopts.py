"""The SMTP settings of the commands that send mail (``mail``, ``round mail``, ``round remind``):
options, the private config file and the environment, read one way for all of them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from xlperf.mail import MailRun
    from xlperf.mail.config import SmtpConfig


def mail_settings(smtp: str | None, tls: str | None, sender: str | None, config_file: Path | None,
                  dry_run: Path | None) -> tuple[str, SmtpConfig | None]:
    """(From header, SMTP settings); no settings for a dry run. A bad setting is a usage error."""
    from xlperf.mail import ConfigError, read_config_file, sender_address, smtp_config

    try:
        settings = read_config_file(config_file) if config_file else {}
        from_header = sender_address(sender, settings, dry_run=dry_run is not None)
        config = None if dry_run else smtp_config(smtp, tls, settings, os.environ)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    return from_header, config


def finish_mail_run(result: MailRun) -> None:
    """Print what a mail run could not do and its summary; exit 1 when a message failed."""
    for line in [*(u.line() for u in result.unmatched), *result.problems]:
        click.echo(line)
    if result.aborted:
        click.echo(f"发送中止：{result.aborted}")
    click.echo(result.summary())
    sys.exit(1 if result.failed else 0)
