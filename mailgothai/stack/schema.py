"""Turn an OpenLDAP `.schema` file into the cn=config LDIF that slapadd loads.

    python -m mailgothai.stack.schema ldap_schema/mailgothai.schema > ldap_schema/mailgothai.ldif
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_KEYWORDS = {
    "objectidentifier": "olcObjectIdentifier",
    "attributetype": "olcAttributeTypes",
    "objectclass": "olcObjectClasses",
}


def _statements(text: str) -> list[tuple[str, str]]:
    """(keyword, definition) pairs; continuation lines start with white space."""
    out: list[tuple[str, str]] = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0] in " \t":
            if not out:
                raise ValueError(f"continuation line before any statement: {raw!r}")
            keyword, body = out[-1]
            out[-1] = (keyword, body + " " + raw.strip())
            continue
        keyword, _, body = raw.partition(" ")
        if keyword.lower() not in _KEYWORDS:
            raise ValueError(f"unknown schema statement {keyword!r}")
        out.append((keyword.lower(), body.strip()))
    return out


def schema_to_ldif(text: str, name: str) -> str:
    lines = [
        f"dn: cn={name},cn=schema,cn=config",
        "objectClass: olcSchemaConfig",
        f"cn: {name}",
    ]
    for keyword, body in _statements(text):
        body = re.sub(r"\s+", " ", body)
        lines.append(f"{_KEYWORDS[keyword]}: {body}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[0])
    sys.stdout.write(schema_to_ldif(path.read_text(encoding="utf-8"), path.stem))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
