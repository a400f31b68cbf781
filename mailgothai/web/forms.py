"""Form descriptions shown by the one generic template (`form.html`): fields with
labels (msgids, translated when shown), current values and the error of each field."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.web.messages import describe_error


@dataclass(frozen=True)
class Field:
    name: str
    label: str  # msgid
    kind: str = "text"  # text | password | number | select | textarea | checkbox | hidden
    value: str = ""
    help: str = ""  # msgid
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()  # (value, label msgid) for select
    autocomplete: str = "off"
    multiple: bool = False
    values: tuple[str, ...] = ()  # selected values of a multiple select


@dataclass
class Form:
    title: str  # msgid
    fields: list[Field]
    submit: str  # msgid
    action: str = ""
    cancel: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    general_error: str = ""
    intro: str = ""  # msgid
    danger: bool = False
    intro_values: dict[str, Any] = field(default_factory=dict)  # %(name)s parts of the intro

    def filled(self, data: Mapping[str, Any]) -> Form:
        """The same form showing what was submitted (never passwords)."""
        out = []
        for f in self.fields:
            if f.kind in ("password",) or f.name not in data:
                out.append(f)
            elif f.multiple and hasattr(data, "getlist"):
                out.append(dataclasses.replace(f, values=tuple(data.getlist(f.name))))
            else:
                value = data.get(f.name)
                out.append(dataclasses.replace(f, value=value if isinstance(value, str) else ""))
        self.fields = out
        return self

    def fail(self, exc: MailGoThaiError, gettext: Any) -> Form:
        if isinstance(exc, InvalidInput) and any(f.name == exc.field for f in self.fields):
            self.errors[exc.field] = exc.why.render(gettext)
        else:
            self.general_error = describe_error(exc, gettext)
        return self
