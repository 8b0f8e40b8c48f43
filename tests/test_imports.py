"""The pipeline's import rules: imports flow one way."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "wfdsl"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules() -> dict[str, set[str]]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("")
        out[".".join(("wfdsl", *rel.parts))] = _imports(path)
    return out


def _uses(imports: set[str], prefix: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for name in imports)


def test_lark_only_in_syntax_layer() -> None:
    offenders = [m for m, imps in _modules().items() if _uses(imps, "lark") and m != "wfdsl.syntax"]
    assert offenders == []


def test_click_only_in_cli() -> None:
    offenders = [m for m, imps in _modules().items() if _uses(imps, "click") and not m.startswith("wfdsl.cli")]
    assert offenders == []


def test_runtime_never_imports_compiler_stages() -> None:
    forbidden = ("wfdsl.syntax", "wfdsl.check", "wfdsl.compile", "wfdsl.project", "wfdsl.cli")
    offenders = {
        m: sorted(i for i in imps if any(_uses({i}, f) for f in forbidden))
        for m, imps in _modules().items()
        if m.startswith(("wfdsl.runtime", "wfdsl.adapters", "wfdsl.stores"))
    }
    assert {m: v for m, v in offenders.items() if v} == {}


def test_syntax_layer_imports_no_later_stage() -> None:
    later = ("wfdsl.check", "wfdsl.compile", "wfdsl.runtime", "wfdsl.cli", "wfdsl.project")
    imps = _modules()["wfdsl.syntax"]
    assert not any(_uses(imps, f) for f in later)
