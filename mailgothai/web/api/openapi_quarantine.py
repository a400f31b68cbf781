"""The OpenAPI entries of the quarantine's endpoints (issue 18; web/api/quarantine.py),
merged into the document by openapi.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mailgothai.core.quarantine import MESSAGE_ID, State

P = "/api/v1"
STR = {"type": "string"}
ID = {"name": "id", "in": "path", "required": True, "description": "the quarantined message's id (22 hex digits)",
      "schema": {"type": "string", "pattern": f"^{MESSAGE_ID.pattern}$"}}
ADDRESSES = {"type": "array", "items": STR}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def paths(op: Callable[..., dict[str, Any]], body: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The paths, made with openapi.py's `_op` and `_body`."""
    recipient = _query("recipient", STR, "one recipient's address")
    return {
        f"{P}/quarantine": {
            "get": op("quarantined messages, newest first: a domain's, a recipient's, or every one the token "
                      "may see (a domain admin: its domains' recipients only)", "QuarantineList", [
                          _query("domain", STR, "one domain's"), recipient,
                          _query("offset", {"type": "integer", "minimum": 0}, "0-based position of the first item"),
                          _query("limit", {"type": "integer", "minimum": 1, "maximum": 200},
                                 "items per page (default 100)")], tag="quarantine")},
        f"{P}/quarantine/{{id}}": {
            "get": op("one quarantined message: its recipients, some headers and its text (HTML as text; null "
                      "where the message is kept on another relay's machine or no longer held)",
                      "QuarantinedMessage", [ID], tag="quarantine"),
            "delete": op("never deliver it (to every recipient the token reaches, or one)", "QuarantineDeleted",
                         [ID, recipient], tag="quarantine")},
        f"{P}/quarantine/{{id}}/release": {
            "post": op("deliver it once, byte for byte, to its held recipients (or one); a recipient released or "
                       "deleted already is left alone", "QuarantineReleased", [ID],
                       body({"recipient": STR}), tag="quarantine")},
        f"{P}/quarantine/{{id}}/learn": {
            "post": op("teach rspamd this message as spam or as ham", None, [ID],
                       body({"as": {"type": "string", "enum": ["spam", "ham"]}}, ("as",)), tag="quarantine")},
    }


RECIPIENT = {"type": "object", "required": ["address", "original", "id", "state"], "properties": {
    "address": STR, "original": {**STR, "description": "the RCPT TO it came with"}, "id": {"type": "integer"},
    "state": {"type": "string", "enum": [s.value for s in State]},
    "released_at": {"type": ["string", "null"]}, "released_by": {"type": ["string", "null"]}}}
MESSAGE = {"type": "object", "required": ["id", "node", "domain", "sender", "subject", "score", "symbols", "size",
                                          "received_at", "expires_at", "recipients"], "properties": {
    "id": STR, "node": {**STR, "description": "the relay that keeps it"}, "domain": STR, "sender": STR,
    "subject": STR, "score": {"type": "number"},
    "symbols": {"type": "object", "additionalProperties": {"type": "number"}, "description": "rspamd's symbols"},
    "size": {"type": "integer", "minimum": 0}, "received_at": STR, "expires_at": STR,
    "recipients": {"type": "array", "items": RECIPIENT}}}
SCHEMAS: dict[str, Any] = {
    "QuarantinedMessage": {"allOf": [MESSAGE, {"type": "object", "properties": {"preview": {
        "type": ["object", "null"], "properties": {
            "headers": {"type": "array", "items": {"type": "object", "properties": {"name": STR, "value": STR}}},
            "text": STR, "attachments": ADDRESSES}}}}]},
    "QuarantineList": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": MESSAGE}}},
    "QuarantineReleased": {"type": "object", "required": ["released"], "properties": {"released": ADDRESSES}},
    "QuarantineDeleted": {"type": "object", "required": ["deleted"], "properties": {"deleted": ADDRESSES}},
}
