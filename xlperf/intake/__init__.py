"""Intake: files from outside into the ledger. Folders now (:mod:`~xlperf.intake.files`);
uploads and the mailbox reuse :func:`intake_files`."""

from xlperf.intake.files import Intake, intake_files, intake_paths

__all__ = ["Intake", "intake_files", "intake_paths"]
