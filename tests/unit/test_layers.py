"""Every import in the package points down the layers (ARCHITECTURE.md, "Packages"):
core ← adapters (directory, store, dkim, mailstore, …) ← services ← the processes (web,
relay, stack, authpolicy, datagen) ← cli. Processes do not import one another; only the
CLI, which starts them all, sees them all. Read from the source (function-level imports
included), so an import made only inside a function cannot hide."""

from __future__ import annotations

import ast
from pathlib import Path

import mailgothai

LAYERS: list[set[str]] = [
    {"core", "errors", "settings", "paths"},
    {"directory", "store", "dkim", "mailstore", "probes", "running_relay", "rspamd_controller", "durable", "dnsquery",
     "relay_submission"},
    {"services"},
    {"web", "relay", "stack", "authpolicy", "datagen"},
    {"cli"},
]
PROCESSES = LAYERS[3]
ROOT = Path(mailgothai.__file__).parent


def layer_of(part: str) -> int:
    for number, members in enumerate(LAYERS):
        if part in members:
            return number
    raise AssertionError(f"mailgothai.{part} is in no layer: add it to LAYERS (and to ARCHITECTURE.md)")


def all_imports_of(path: Path) -> list[str]:
    """Every module a file imports by its absolute name (a package's or a library's)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def imports_of(path: Path) -> list[str]:
    return [name for name in all_imports_of(path) if name.startswith("mailgothai.")]


ADAPTER_LIBRARIES = ("sqlalchemy", "ldap3", "alembic", "pyasn1")


def adapter_libraries_in(names: list[str]) -> list[str]:
    """The imports of a backend's own library: only adapters (directory/, store/) speak
    to slapd and SQL; services reach them through their ports (services/ports.py)."""
    return [name for name in names if name.split(".")[0] in ADAPTER_LIBRARIES]


def wrong_imports(part: str, names: list[str]) -> list[str]:
    """Of the modules `names` imported by a module of mailgothai.`part`, those in a higher
    layer, or in a sibling process."""
    mine = layer_of(part)
    wrong = []
    for name in names:
        other = name.split(".")[1]
        if other != part and (layer_of(other) > mine or (part in PROCESSES and other in PROCESSES)):
            wrong.append(name)
    return wrong


def test_every_import_points_down_the_layers() -> None:
    modules = [p for p in ROOT.rglob("*.py") if "migrations" not in p.parts and p != ROOT / "__init__.py"]
    assert len(modules) > 100
    wrong = [f"{path.relative_to(ROOT.parent)} imports {name}" for path in modules
             for name in wrong_imports(path.relative_to(ROOT).parts[0].removesuffix(".py"), imports_of(path))]
    assert wrong == []


def test_services_import_neither_sqlalchemy_nor_ldap3() -> None:
    modules = sorted((ROOT / "services").rglob("*.py"))
    assert len(modules) > 20
    wrong = [f"{path.relative_to(ROOT.parent)} imports {name}" for path in modules
             for name in adapter_libraries_in(all_imports_of(path))]
    assert wrong == []


def adapter_errors_caught(path: Path) -> list[str]:
    """Exception classes an `except` of the module names that it imported from an adapter
    (directory/, store/, …): adapters map their errors to errors.py at the edge, so a
    service catches the project's own errors only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    source: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                source[alias.asname or alias.name] = node.module
    adapters = {f"mailgothai.{part}" for part in LAYERS[1]}
    caught: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            for name in ast.walk(node.type):
                if isinstance(name, ast.Name):
                    module = source.get(name.id, "")
                    if ".".join(module.split(".")[:2]) in adapters:
                        caught.append(f"{name.id} from {module}")
    return caught


def test_services_catch_the_projects_own_errors() -> None:
    wrong = [f"{path.relative_to(ROOT.parent)} catches {name}" for path in sorted((ROOT / "services").rglob("*.py"))
             for name in adapter_errors_caught(path)]
    assert wrong == []


def test_the_check_sees_an_adapters_error_caught(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("from mailgothai.directory.batch import TransactionRefused\n"
                      "from mailgothai.errors import NotFound\n"
                      "try:\n    pass\nexcept (TransactionRefused, NotFound, OSError):\n    pass\n", encoding="utf-8")
    assert adapter_errors_caught(source) == ["TransactionRefused from mailgothai.directory.batch"]


def test_the_check_sees_each_kind_of_wrong_import(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("import os\nfrom mailgothai.services.registry import Services\n"
                      "def later():\n    import mailgothai.stack.manager\n", encoding="utf-8")
    names = imports_of(source)
    assert names == ["mailgothai.services.registry", "mailgothai.stack.manager"]
    assert wrong_imports("core", names) == names  # upward, also from inside a function
    assert wrong_imports("relay", names) == ["mailgothai.stack.manager"]  # a sibling process
    assert wrong_imports("cli", names) == []  # the entry point starts them all


def test_the_check_sees_a_backend_library_imported(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("import sqlalchemy.orm\nfrom ldap3 import LEVEL\nimport logging\n"
                      "def later():\n    from sqlalchemy import select\n", encoding="utf-8")
    assert adapter_libraries_in(all_imports_of(source)) == ["sqlalchemy.orm", "ldap3", "sqlalchemy"]
