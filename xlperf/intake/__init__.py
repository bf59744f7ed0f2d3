"""intake layer: files from outside into the ledger: folders (:mod:`~xlperf.intake.files`),
uploads, and the mailbox (IMAP); replies and reminders. Every way in ends in :func:`intake_files`,
which treats every file by one rule (:mod:`~xlperf.intake.given`: zips unpacked and recorded,
other files checked or not by name).

Mailbox modules: :mod:`imapconf` (server settings and credentials), :mod:`mailbox` (the IMAP
folder), :mod:`mime` (what a message holds), :mod:`archive` (zip attachments), :mod:`replies`
(the messages sent back).
"""

from xlperf.intake.files import Intake, intake_files, intake_paths

__all__ = ["Intake", "intake_files", "intake_paths"]
