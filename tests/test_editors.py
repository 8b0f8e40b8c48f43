"""The VS Code extension in editors/vscode: its TextMate grammar is generated from the
Lark grammar and current, its scopes pass the annotated samples, and its files agree."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lark import Lark

from wfdsl.syntax.parser import grammar_text

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "wfdsl.tmLanguage.json"
TOOL = VSCODE / "node_modules" / ".bin" / "vscode-tmgrammar-test"


def test_the_committed_grammar_is_generated_from_the_lark_grammar() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_tmgrammar.py"), "--check"],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert done.returncode == 0, done.stderr


def _first_scope(word: str) -> str | None:
    """The scope the grammar's keyword and literal rules give a word standing alone."""
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    repository = grammar["repository"]
    for rule in repository["literal"]["patterns"] + repository["keyword"]["patterns"]:
        # Oniguruma and Python agree on these patterns (look-arounds, classes, groups).
        if re.fullmatch(rule["match"], word):
            return str(rule["name"])
    return None


def test_every_keyword_of_the_language_is_highlighted() -> None:
    parser = Lark(grammar_text(), parser="lalr", lexer="contextual")
    keywords = {str(t.pattern.value) for t in parser.terminals if t.pattern.type == "str" and t.pattern.value.isalpha()}
    assert {"workflow", "enroll", "steps", "goal", "delay", "received"} <= keywords
    missing = sorted(word for word in keywords if _first_scope(word) is None)
    assert missing == []
    assert _first_scope("if") == "keyword.control.wfdsl"
    assert _first_scope("not") == "keyword.operator.logical.wfdsl"
    assert _first_scope("weeks") == "keyword.other.unit.wfdsl"
    assert _first_scope("2026-12-24T09:00") == "constant.numeric.datetime.wfdsl"


def test_the_extension_files_agree() -> None:
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (language,) = package["contributes"]["languages"]
    (grammar,) = package["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "wfdsl"
    assert language["extensions"] == [".wf"]
    assert (VSCODE / grammar["path"]).resolve() == GRAMMAR
    assert json.loads(GRAMMAR.read_text(encoding="utf-8"))["scopeName"] == grammar["scopeName"]
    config = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"] == {"lineComment": "#"}
    assert ["{", "}"] in config["brackets"]
    assert (VSCODE / package["main"]).is_file()
    settings = package["contributes"]["configuration"]["properties"]
    assert settings["wfdsl.server.command"]["default"] == ["wfdsl", "lsp"]
    assert "vscode-languageclient" in package["dependencies"]
    assert (VSCODE / "package-lock.json").is_file()
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "node_modules/" in ignored


# ---------------------------------------------------------------- with Node


def _node_tools() -> None:
    """Install the extension's pinned npm packages (package-lock.json) once, or fail clearly."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the grammar's scope tests and the client's need them")
    if not TOOL.exists() or not (VSCODE / "node_modules" / "vscode-languageclient").is_dir():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=VSCODE,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=600,
        )
        assert done.returncode == 0, done.stderr


def test_scopes_of_the_annotated_samples() -> None:
    _node_tools()
    done = subprocess.run(
        [str(TOOL), "tests/*.test.wf"], cwd=VSCODE, capture_output=True, text=True, encoding="utf-8", timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("run successfuly") == len(list((VSCODE / "tests").glob("*.test.wf")))


def test_a_wrong_scope_fails_the_samples(tmp_path: Path) -> None:
    _node_tools()
    broken = GRAMMAR.read_text(encoding="utf-8").replace('"keyword.control.wfdsl"', '"keyword.other.wfdsl"')
    (tmp_path / "grammar.json").write_text(broken, encoding="utf-8")
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    package["contributes"]["grammars"][0]["path"] = "grammar.json"  # relative to the config
    (tmp_path / "package.json").write_text(json.dumps(package), encoding="utf-8")
    done = subprocess.run(
        [str(TOOL), "--config", str(tmp_path / "package.json"), "tests/*.test.wf"],
        cwd=VSCODE,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode != 0
    assert "missing required scopes: keyword.control.wfdsl" in done.stdout + done.stderr


CLIENT_CHECK = r"""
const Module = require("module");
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === "vscode") {
    // Only what the extension uses is real; anything else the client library reads is a class.
    const known = { workspace: { createFileSystemWatcher: (glob) => ({ glob }) }, window: {} };
    return new Proxy(known, { get: (target, key) => (key in target ? target[key] : class {}) });
  }
  return load.call(this, request, parent, isMain);
};
const { clientParts } = require("./extension.js");
const settings = { "server.command": undefined, "server.debounceMs": 100 };
const parts = clientParts({ get: (key, fallback) => (settings[key] !== undefined ? settings[key] : fallback) });
const { TransportKind } = require("vscode-languageclient/node");
const config = require("./language-configuration.json");
const increase = new RegExp(config.indentationRules.increaseIndentPattern);
const decrease = new RegExp(config.indentationRules.decreaseIndentPattern);
console.log(JSON.stringify({
  command: parts.command,
  args: parts.args,
  stdio: parts.serverOptions.transport === TransportKind.stdio,
  languages: parts.clientOptions.documentSelector.map((s) => s.language),
  debounce: parts.clientOptions.initializationOptions.debounceMs,
  watch: parts.clientOptions.synchronize.fileEvents.glob,
  indent: ["  steps {", 'if contact.x = "{" {', "  label \"a\" # {", "  } else {", "x { }"]
    .map((l) => increase.test(l)),
  dedent: ["  }", "}", "  ]", "  send email \"}\""].map((l) => decrease.test(l)),
}));
"""


def test_the_client_starts_wfdsl_lsp_over_stdio() -> None:
    _node_tools()
    done = subprocess.run(
        ["node", "-e", CLIENT_CHECK], cwd=VSCODE, capture_output=True, text=True, encoding="utf-8", timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "command": "wfdsl",
        "args": ["lsp"],
        "stdio": True,  # vscode-languageclient adds `--stdio`, which `wfdsl lsp` accepts
        "languages": ["wfdsl", "wfdsl"],
        "debounce": 100,
        "watch": "**/{*.wf,wfdsl.toml,pyproject.toml}",
        "indent": [True, True, False, True, False],
        "dedent": [True, True, True, False],
    }


def test_the_editors_page_shows_the_picture_and_its_configs_parse() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    page = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    assert "](img/editor.png)" in page
    picture = (ROOT / "docs" / "img" / "editor.png").read_bytes()
    assert picture.startswith(b"\x89PNG") and len(picture) > 20_000
    blocks = re.findall(r"```toml\n(.*?)```", page, re.S)
    assert blocks
    for block in blocks:
        config = tomllib.loads(block)
        assert config["language-server"]["wfdsl"] == {"command": "wfdsl", "args": ["lsp"]}
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    for setting, spec in package["contributes"]["configuration"]["properties"].items():
        assert f"`{setting}`" in page
        assert json.dumps(spec["default"]).replace('","', '", "') in page or str(spec["default"]) in page
