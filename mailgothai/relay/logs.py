"""The relay's log: JSON lines on stdout (the message log's lines as they are)."""

from __future__ import annotations

import json
import logging
import sys


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if record.name == "mailgothai.relay.messages":
            return record.getMessage()
        data = {"at": round(record.created, 3), "level": record.levelname.lower(), "msg": record.getMessage()}
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("mailgothai")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    aiosmtpd_log = logging.getLogger("mail.log")
    aiosmtpd_log.setLevel(logging.WARNING)  # not its per-command chatter
    aiosmtpd_log.handlers[:] = [handler]
    aiosmtpd_log.propagate = False
    # ... nor the warning it logs on every AUTH about its own deprecated `login_data`
    aiosmtpd_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
