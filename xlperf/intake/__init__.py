"""intake layer: returns arriving from folders, uploads and the mailbox (IMAP) into the ledger;
replies and reminders.

Mailbox modules: :mod:`imapconf` (server settings and credentials), :mod:`mailbox` (the IMAP
folder), :mod:`mime` (what a message holds), :mod:`archive` (zip attachments), :mod:`replies`
(the messages sent back).
"""
