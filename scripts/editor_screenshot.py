"""Render docs/img/editor.png: a workflow as the VS Code extension shows it.

python scripts/editor_screenshot.py [--out docs/img/editor.png] [--html page.html]

Nothing in the picture is drawn by hand: the colours come from the generated
TextMate grammar (editors/vscode/syntaxes, tokenized by vscode-textmate and
vscode-oniguruma through scripts/tmtokens.js), and the squiggle, the problem
and the hover box are the answers of a real `wfdsl lsp` process to
textDocument/didOpen and textDocument/hover. A page with all of it is
rendered by headless Chromium (Debian package `chromium`).

Needs: Node.js with `npm ci` done in editors/vscode, and chromium on PATH.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GRAMMAR = ROOT / "editors" / "vscode" / "syntaxes" / "wfdsl.tmLanguage.json"
SAMPLE = ROOT / "examples" / "welcome-series.wf"
#: The mistake shown: an option of hs_lead_status misspelt.
MISTAKE = ('"IN_PROGRESS"', '"IN_PROGRES"')
#: Where the pointer rests: on this text of this line.
HOVER_AT = ("enroll when contact.lifecyclestage", "lifecyclestage")

#: VS Code's Dark+ colours for the grammar's scopes (most specific prefix wins).
THEME = {
    "comment": "#6a9955",
    "string": "#ce9178",
    "constant.character.escape": "#d7ba7d",
    "meta.interpolation": "#9cdcfe",
    "punctuation.section.interpolation": "#569cd6",
    "constant.numeric": "#b5cea8",
    "constant.language": "#569cd6",
    "constant.other": "#4fc1ff",
    "keyword.control": "#c586c0",
    "keyword.operator": "#d4d4d4",
    "keyword.operator.logical": "#569cd6",
    "keyword.other.unit": "#569cd6",
    "keyword": "#569cd6",
    "storage.type": "#569cd6",
    "entity.name.type": "#4ec9b0",
    "support.function": "#dcdcaa",
    "variable.other.object": "#4ec9b0",
    "variable.other.property": "#9cdcfe",
    "variable": "#9cdcfe",
    "entity.name.tag": "#569cd6",
}


def colour(scopes: list[str]) -> str:
    best = ("", "#d4d4d4")
    for scope in scopes:
        for prefix, value in THEME.items():
            if (scope == prefix or scope.startswith(prefix + ".")) and len(prefix) >= len(best[0]):
                best = (prefix, value)
    return best[1]


class Server:
    """A `wfdsl lsp` process, spoken to over stdio."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wfdsl", "lsp"], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ident = 0

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            self.inbox.put(json.loads(stream.read(length)))

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        self.ident += 1
        self._send({"id": self.ident, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.ident and "method" not in m)["result"]

    def wait(self, match: Any) -> dict[str, Any]:
        while True:
            message = self.inbox.get(timeout=30)
            if match(message):
                return message

    def close(self) -> None:
        self.request("shutdown", None)
        self.notify("exit", None)
        self.process.wait(timeout=30)


def ask_server(text: str, line: int, character: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Open the text as a file of a project with the examples' schema; the diagnostics and the hover."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        shutil.copy(ROOT / "examples" / "wfdsl.toml", project / "wfdsl.toml")
        path = project / SAMPLE.name
        path.write_text(text, encoding="utf-8")
        uri = path.as_uri()
        server = Server(project)
        server.request("initialize", {"processId": os.getpid(), "rootUri": project.as_uri(), "capabilities": {}})
        server.notify("initialized", {})
        server.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "wfdsl", "version": 1, "text": text}},
        )
        published = server.wait(
            lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
        )
        hover = server.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
        )
        server.close()
    return published["params"]["diagnostics"], hover


def tokens(text: str) -> list[list[dict[str, Any]]]:
    with tempfile.NamedTemporaryFile("w", suffix=".wf", delete=False, encoding="utf-8") as handle:
        handle.write(text)
    try:
        done = subprocess.run(
            ["node", str(ROOT / "scripts" / "tmtokens.js"), str(GRAMMAR), handle.name],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    result: list[list[dict[str, Any]]] = json.loads(done.stdout)
    return result


def markdown(text: str) -> str:
    """The little Markdown the server's hovers use: code fences, **bold**, `code`, paragraphs."""
    out: list[str] = []
    for block in re.split(r"\n{2,}", text.strip()):
        if block.startswith("```"):
            code = "\n".join(block.split("\n")[1:-1])
            out.append(f'<pre class="code">{html.escape(code)}</pre>')
            continue
        escaped = html.escape(block)
        escaped = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)
        escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
        out.append(f"<p>{escaped}</p>")
    return "\n".join(out)


def page(text: str, diagnostics: list[dict[str, Any]], hover: dict[str, Any]) -> str:
    lines = tokens(text)
    marks: dict[int, tuple[int, int]] = {}
    for d in diagnostics:
        start, end = d["range"]["start"], d["range"]["end"]
        if start["line"] == end["line"]:
            marks[start["line"]] = (start["character"], end["character"])
    hover_line = hover["range"]["start"]["line"]
    hover_col = hover["range"]["start"]["character"]
    rows = []
    if text.endswith("\n"):
        lines = lines[:-1]  # the empty "line" after the last newline
    for number, line_tokens in enumerate(lines):
        cells = []
        column = 0
        for token in line_tokens:
            piece = token["text"]
            parts = [(piece, False)]
            if number in marks:
                a, b = marks[number]
                start, end = column, column + len(piece)
                lo, hi = max(a, start), min(b, end)
                if lo < hi:
                    parts = [
                        (piece[: lo - start], False),
                        (piece[lo - start : hi - start], True),
                        (piece[hi - start :], False),
                    ]
            for part, squiggle in parts:
                if part:
                    cls = ' class="squiggle"' if squiggle else ""
                    cells.append(f'<span style="color:{colour(token["scopes"])}"{cls}>{html.escape(part)}</span>')
            column += len(piece)
        rows.append(
            f'<div class="row{" current" if number == hover_line else ""}">'
            f'<span class="gutter">{number + 1}</span><span class="text">{"".join(cells)}</span></div>'
        )
    problems = "".join(
        f'<div class="problem"><span class="icon {"error" if d["severity"] == 1 else "warning"}">'
        f"{'⊗' if d['severity'] == 1 else '⚠'}</span> {html.escape(d['message'])} "
        f'<span class="dim">wfdsl({html.escape(str(d["code"]))}) [Ln {d["range"]["start"]["line"] + 1}, '
        f"Col {d['range']['start']['character'] + 1}]</span>"
        + "".join(f'<div class="related">{html.escape(r["message"])}</div>' for r in d.get("relatedInformation") or [])
        + "</div>"
        for d in diagnostics
    )
    contents = hover["contents"]["value"]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #1e1e1e; font-family: 'DejaVu Sans', sans-serif; }}
.tabs {{ background: #252526; height: 35px; display: flex; }}
.tab {{ background: #1e1e1e; color: #ffffff; padding: 9px 18px; font-size: 13px; border-top: 1px solid #0078d4; }}
.editor {{ font-family: 'DejaVu Sans Mono', monospace; font-size: 14px; line-height: 19px; padding-top: 6px;
  position: relative; }}
.row {{ white-space: pre; height: 19px; }}
.row.current {{ background: #2a2d2e; }}
.gutter {{ display: inline-block; width: 48px; text-align: right; padding-right: 24px; color: #858585; }}
.squiggle {{ text-decoration: underline wavy #f14c4c; text-decoration-skip-ink: none;
  text-underline-offset: 3px; }}
.hover {{ position: absolute; background: #252526; border: 1px solid #454545; color: #cccccc;
  font-family: 'DejaVu Sans', sans-serif; font-size: 13px; padding: 4px 10px; max-width: 560px;
  box-shadow: 0 2px 8px rgba(0,0,0,.6); }}
.hover p {{ margin: 6px 0; }} .hover code {{ font-family: 'DejaVu Sans Mono', monospace; color: #d7ba7d; }}
.hover .code {{ font-family: 'DejaVu Sans Mono', monospace; margin: 6px 0; color: #9cdcfe; }}
.panel {{ border-top: 1px solid #414141; background: #1e1e1e; color: #cccccc; font-size: 13px;
  padding: 6px 16px 10px; }}
.panel h {{ display: block; font-size: 11px; letter-spacing: .05em; color: #e7e7e7; padding: 4px 0 8px;
  text-transform: uppercase; }}
.problem {{ padding: 3px 0; }} .dim {{ color: #8b8b8b; }} .related {{ padding-left: 22px; color: #b0b0b0; }}
.icon.error {{ color: #f14c4c; }} .icon.warning {{ color: #cca700; }}
</style></head><body>
<div class="tabs"><div class="tab">{html.escape(SAMPLE.name)}</div></div>
<div class="editor">
{"".join(rows)}
<div class="hover" style="top: {6 + (hover_line + 1) * 19 + 2}px; left: {72 + hover_col * 8.43:.0f}px">
{markdown(contents)}
</div>
</div>
<div class="panel"><h>Problems</h>{problems}</div>
</body></html>
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "img" / "editor.png"))
    parser.add_argument("--html", help="also keep the page here")
    args = parser.parse_args()
    text = SAMPLE.read_text(encoding="utf-8").replace(*MISTAKE)
    lines = text.split("\n")
    line = next(i for i, item in enumerate(lines) if HOVER_AT[0] in item)
    character = lines[line].index(HOVER_AT[1]) + 3
    diagnostics, hover = ask_server(text, line, character)
    if not diagnostics or not hover:
        print("the server gave no diagnostic or no hover", file=sys.stderr)
        return 1
    document = page(text, diagnostics, hover)
    with tempfile.TemporaryDirectory() as tmp:
        html_path = Path(args.html) if args.html else Path(tmp) / "editor.html"
        html_path.write_text(document, encoding="utf-8")
        height = 6 + 19 * len(lines) + 35 + 30 + 50 * len(diagnostics)
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={Path(tmp) / 'profile'}",
                f"--screenshot={Path(args.out).resolve()}",
                f"--window-size=1000,{height}",
                html_path.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
