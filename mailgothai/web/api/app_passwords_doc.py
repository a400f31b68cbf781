"""The OpenAPI entries of a mail user's app passwords and second factor (issue 20). Merged
into the document by openapi.py."""

from __future__ import annotations

from typing import Any

from mailgothai.web.api.openapi import BOOL, EMAIL, NULLABLE_STR, STR, P, _op, _path_param

TAG = "passwords"
APP_ID = _path_param("app_id", "the app password's id (8 hex digits)")


def paths() -> dict[str, Any]:
    return {
        f"{P}/accounts/{{email}}/app-passwords": {
            "get": _op("the account's app passwords (never the passwords or their hashes), with their last use, "
                       "and whether its second factor is on", "AppPasswords", [EMAIL], tag=TAG)},
        f"{P}/accounts/{{email}}/app-passwords/{{app_id}}": {
            "delete": _op("revoke one: IMAP and SMTP AUTH refuse it at the next login (Dovecot's auth cache is "
                          "flushed, the account's IMAP sessions ended)", None, [EMAIL, APP_ID], tag=TAG)},
        f"{P}/accounts/{{email}}/second-factor": {
            "delete": _op("turn the user's second factor off (a lost phone): the password opens the web, IMAP "
                          "and SMTP again; nothing if it was off", None, [EMAIL], tag=TAG)},
    }


def schemas() -> dict[str, Any]:
    app = {"type": "object", "required": ["id", "name", "created", "last_used", "last_protocol", "last_remote"],
           "properties": {"id": STR, "name": STR, "created": STR, "last_used": NULLABLE_STR,
                          "last_protocol": NULLABLE_STR, "last_remote": NULLABLE_STR}}
    return {"AppPasswords": {"type": "object", "required": ["email", "second_factor", "app_passwords"],
                             "properties": {"email": STR, "second_factor": BOOL,
                                            "app_passwords": {"type": "array", "items": app}}}}
