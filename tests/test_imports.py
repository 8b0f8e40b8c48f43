"""The pipeline's import rules: imports flow one way, layer by layer; and no module
or class grows past the size where it does more than one job.

The folders of `src/wfdsl` are the layers (see docs/architecture.md). The
modules directly in `src/wfdsl` (spans, diagnostics, limits, catalog, schema,
collector, terminal) and the data packages `rules` and `templates` are the
base every layer may use; they import only each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "wfdsl"

BASE = "base"
LAYERS = ("syntax", "check", "plan", "compile", "runtime", "stores", "adapters", "host", "tools", "cli")

# What each layer may import, besides itself and the base.
ALLOWED: dict[str, set[str]] = {
    BASE: set(),
    "syntax": set(),
    "check": {"syntax"},
    "plan": set(),
    "compile": {"syntax", "check", "plan"},
    "runtime": {"plan"},
    "stores": {"plan", "runtime"},
    "adapters": {"plan", "runtime", "stores"},
    "host": {"syntax", "check", "plan", "compile", "runtime", "stores", "adapters"},
    "tools": {"syntax", "check", "plan", "compile", "runtime", "stores", "adapters", "host"},
    "cli": set(LAYERS),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "wfdsl":
                found.update(f"wfdsl.{alias.name}" for alias in node.names)
    return found


def _modules() -> dict[str, set[str]]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("")
        out[".".join(("wfdsl", *rel.parts))] = _imports(path)
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return BASE


def _uses(imports: set[str], prefix: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for name in imports)


def test_every_folder_is_a_known_layer() -> None:
    folders = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - {"rules", "templates"} == set(LAYERS)


def test_layers_import_only_earlier_layers() -> None:
    offenders: dict[str, list[str]] = {}
    for module, imports in _modules().items():
        if module in ("wfdsl.__main__", "wfdsl.api"):
            continue
        own = _layer(module)
        allowed = ALLOWED[own] | {own, BASE}
        bad = sorted(i for i in imports if i.startswith("wfdsl.") and _layer(i) not in allowed)
        if bad:
            offenders[module] = bad
    assert offenders == {}


def test_api_facade_imports_no_cli_or_tools() -> None:
    imports = _modules()["wfdsl.api"]
    assert not any(_uses(imports, f"wfdsl.{layer}") for layer in ("cli", "tools"))


def test_lark_only_in_syntax_layer() -> None:
    offenders = [m for m, imps in _modules().items() if _uses(imps, "lark") and _layer(m) != "syntax"]
    assert offenders == []


def test_click_only_in_cli() -> None:
    offenders = [m for m, imps in _modules().items() if _uses(imps, "click") and _layer(m) != "cli"]
    assert offenders == []


def test_optional_extras_only_where_they_are_used() -> None:
    # psycopg, httpx, starlette and pygls are extras: the core never imports them.
    extras = {
        "psycopg": ("wfdsl.stores.pgdb", "wfdsl.stores.postgres", "wfdsl.adapters.postgres"),
        "httpx": ("wfdsl.adapters.hubspot",),
        "starlette": ("wfdsl.host.serve", "wfdsl.cli.serve"),
        "pygls": ("wfdsl.tools.lsp",),
    }
    for package, homes in extras.items():
        users = [m for m, imps in _modules().items() if _uses(imps, package)]
        assert all(m.startswith(homes) for m in users), (package, users)


# ---------------------------------------------------------------- sizes

#: One job per module and per class: a module over this many lines, or a class
#: over CLASS_LIMIT, is doing more than one and should be cut along its seams.
MODULE_LIMIT = 800
CLASS_LIMIT = 400

# Exceptions to the limits: empty, and meant to stay so. An entry must name a
# module or class that really is over (test_exceptions_are_still_over).
MODULES_OVER: frozenset[str] = frozenset()
CLASSES_OVER: frozenset[str] = frozenset()


def _sizes() -> tuple[dict[str, int], dict[str, int]]:
    modules: dict[str, int] = {}
    classes: dict[str, int] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        text = path.read_text(encoding="utf-8")
        modules[rel] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                classes[f"{rel}:{node.name}"] = node.end_lineno - node.lineno + 1
    return modules, classes


def test_no_module_over_the_limit() -> None:
    modules, _ = _sizes()
    over = {name: lines for name, lines in modules.items() if lines > MODULE_LIMIT and name not in MODULES_OVER}
    assert over == {}, f"modules over {MODULE_LIMIT} lines: cut them along their seams"


def test_no_class_over_the_limit() -> None:
    _, classes = _sizes()
    over = {name: lines for name, lines in classes.items() if lines > CLASS_LIMIT and name not in CLASSES_OVER}
    assert over == {}, f"classes over {CLASS_LIMIT} lines: cut them along their seams"


def test_exceptions_are_still_over() -> None:
    modules, classes = _sizes()
    assert {m for m in MODULES_OVER if modules.get(m, 0) <= MODULE_LIMIT} == set()
    assert {c for c in CLASSES_OVER if classes.get(c, 0) <= CLASS_LIMIT} == set()
