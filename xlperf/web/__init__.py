"""The web desk for finance staff: routes, templates and auth over the ledger (no business logic)."""

from xlperf.web.app import create_app
from xlperf.web.config import DeskConfig, is_loopback
from xlperf.web.users import AUDITOR, ROLES, STAFF, User, UserError, add_user, has_users

__all__ = ["AUDITOR", "ROLES", "STAFF", "DeskConfig", "User", "UserError", "add_user", "create_app",
           "has_users", "is_loopback"]
