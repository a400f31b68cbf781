"""Every reason an InvalidInput (or LimitExceeded) can carry, read from the source code.

The AST of each module is walked for `InvalidInput(field, reason)` calls. A reason
written as a string or an f-string becomes a sample text: its literal parts as written,
each interpolated value as `VALUE` (quoted when the f-string asks for repr). A name is
followed where it can be: a module constant, the values assigned to it in the function
(including what a helper of the same module returns), or, for a parameter, the string
arguments the module's own calls pass. Whatever cannot be followed is a `VALUE`.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VALUE = "\u27e8value\u27e9"  # ⟨value⟩: a part of the reason that is data
RAISES = {"InvalidInput", "LimitExceeded"}
MAX_SAMPLES = 32


@dataclass(frozen=True)
class Site:
    path: Path
    line: int
    fields: tuple[str | None, ...]  # None: a field the code computes
    reasons: tuple[str, ...]
    passed_on: bool = False  # InvalidInput(field, exc.reason): another site's reason, passed on

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class _Module:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.functions = {n.name: n for n in ast.walk(self.tree) if isinstance(n, ast.FunctionDef)}
        self.constants = {
            t.id: n.value.value for n in self.tree.body if isinstance(n, ast.Assign)
            for t in n.targets if isinstance(t, ast.Name)
            and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
        }

    def function_of(self, node: ast.AST) -> ast.FunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef):
                return node
        return None

    # ---- expanding an expression into the texts it can be ----------------------
    def texts(self, expr: ast.AST | None, scope: ast.FunctionDef | None, depth: int = 0,
              data: bool = False) -> list[str]:
        """The texts expr can be. `data`: inside an f-string's {...}, where a call is a
        value (format_size(...)), not more of the message (a helper returning a reason)."""
        if expr is None or depth > 12:
            return [VALUE]
        if isinstance(expr, ast.Constant):
            return [expr.value] if isinstance(expr.value, str) else [VALUE]
        if isinstance(expr, ast.JoinedStr):
            parts = []
            for part in expr.values:
                if isinstance(part, ast.FormattedValue):
                    inner = self.texts(part.value, scope, depth + 1, data=True)
                    if part.conversion == ord("r"):
                        inner = [f"'{VALUE}'" if t == VALUE else repr(t) for t in inner]
                    parts.append(inner)
                else:
                    parts.append(self.texts(part, scope, depth + 1, data))
            return _joined(parts)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            joined = _joined([self.texts(expr.left, scope, depth + 1, data),
                              self.texts(expr.right, scope, depth + 1, data)])
            return [VALUE] if joined == [VALUE + VALUE] else joined
        if isinstance(expr, ast.IfExp):  # `x if ... else None`: None is no reason
            return [t for branch in (expr.body, expr.orelse) if not _is_none(branch)
                    for t in self.texts(branch, scope, depth + 1, data)]
        if isinstance(expr, ast.Name):
            return self._name(expr.id, scope, depth, data)
        if (not data and isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
                and expr.func.id in self.functions):
            return self._returns(self.functions[expr.func.id], depth)
        return [VALUE]

    def _name(self, name: str, scope: ast.FunctionDef | None, depth: int, data: bool) -> list[str]:
        if scope is not None:
            assigned = [n.value for n in ast.walk(scope) if isinstance(n, (ast.Assign, ast.AnnAssign))
                        and any(isinstance(t, ast.Name) and t.id == name
                                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
            if assigned:
                found = [t for value in assigned if not _is_none(value)
                         for t in self.texts(value, scope, depth + 1, data)]
                return found or [VALUE]
            params = [a.arg for a in scope.args.args]
            if name in params:
                return self._arguments(scope, params.index(name), name, depth)
        if name in self.constants:
            return [self.constants[name]]
        return [VALUE]

    def _returns(self, function: ast.FunctionDef, depth: int) -> list[str]:
        found: list[str] = []
        for node in ast.walk(function):
            if isinstance(node, ast.Return) and isinstance(node.value, (ast.Constant, ast.JoinedStr)):
                found.extend(t for t in self.texts(node.value, function, depth + 1, data=True) if t != VALUE)
        return found or [VALUE]

    def _arguments(self, function: ast.FunctionDef, position: int, name: str, depth: int) -> list[str]:
        """The strings this module passes for a parameter (all of them, or VALUE)."""
        found: list[str] = []
        for node in ast.walk(self.tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function.name):
                continue
            given = [k.value for k in node.keywords if k.arg == name]
            if not given and position < len(node.args):
                given = [node.args[position]]
            if not given:
                return [VALUE]  # the default value, or a value this module cannot see
            found.extend(self.texts(given[0], self.function_of(node), depth + 1, data=True))
        return found or [VALUE]

    # ---- the raise sites ------------------------------------------------------
    def sites(self) -> Iterator[Site]:
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func.id if isinstance(node.func, ast.Name) else \
                node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if callee not in RAISES or len(node.args) + len(node.keywords) < 2:
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            field = node.args[0] if node.args else keywords.get("field")
            reason = node.args[1] if len(node.args) > 1 else keywords.get("reason")
            scope = self.function_of(node)
            fields = tuple(None if t == VALUE else t for t in self.texts(field, scope))
            passed_on = isinstance(reason, ast.Attribute) and reason.attr == "reason"
            yield Site(self.path, node.lineno, fields, tuple(self.texts(reason, scope)), passed_on)


def _is_none(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is None


def _joined(parts: list[list[str]]) -> list[str]:
    return ["".join(p) for p in itertools.islice(itertools.product(*parts), MAX_SAMPLES)]


def reason_sites(*roots: Path, exclude: tuple[Path, ...] = ()) -> list[Site]:
    sites: list[Site] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if any(path.is_relative_to(x) for x in exclude):
                continue
            sites.extend(_Module(path).sites())
    return sites
