"""The SQL store adapter (SQLAlchemy 2 + Alembic): audit log now; import jobs, API
tokens, DKIM key records and relay counters as later issues add them."""

from mailgothai.store.audit import AuditEntry, AuditLog
from mailgothai.store.db import Store

__all__ = ["AuditEntry", "AuditLog", "Store"]
