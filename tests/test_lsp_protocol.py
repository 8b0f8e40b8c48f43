"""`wfdsl lsp` at the wire: malformed JSON, unknown methods and bad params get
JSON-RPC errors (or are ignored, for notifications), never a dead server; and
the command without its extra names the extra."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

SERVER = [sys.executable, "-m", "wfdsl", "lsp"]


class RawClient:
    """Frames and reads JSON-RPC messages by hand, so that anything can be sent."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            SERVER, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.next_id = 0

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None
            self.messages.put(json.loads(stream.read(length)))

    def send_raw(self, body: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send_raw(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode())

    def request(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.send_raw(json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}).encode())
        return self.response(ident)

    def response(self, ident: int) -> dict[str, Any]:
        while True:
            message = self.messages.get(timeout=20)
            if message.get("id") == ident and "method" not in message:
                return message


def test_bad_messages_get_errors_and_the_server_keeps_serving(tmp_path: Path) -> None:
    (tmp_path / "a.wf").write_text('workflow "A" { object contact steps { end } }\n', encoding="utf-8")
    uri = (tmp_path / "a.wf").as_uri()
    client = RawClient(tmp_path)
    try:
        init = client.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}})
        assert "capabilities" in init["result"]
        client.notify("initialized", {})

        unknown = client.request("wfdsl/noSuchMethod", {"x": 1})
        assert unknown["error"]["code"] == -32601  # method not found
        client.notify("wfdsl/noSuchNotification", [1, 2])
        client.notify("$/cancelRequest", {"id": 999})

        bad_params = client.request("textDocument/hover", {"textDocument": {"uri": 5}})
        assert "error" in bad_params
        no_params = client.request("textDocument/definition", None)
        assert "error" in no_params

        client.send_raw(b"{ this is not json")
        client.send_raw(b"[]")
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri}})  # fields missing
        client.notify(
            "textDocument/didChange", {"textDocument": {"uri": uri + "x", "version": 2}, "contentChanges": []}
        )
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": 3},
                "contentChanges": [
                    {
                        "range": {"start": {"line": -5, "character": -1}, "end": {"line": 1e6, "character": 0}},
                        "text": "x",
                    }
                ],
            },
        )
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "wfdsl", "version": 1, "text": 'workflow "A" {\x00'}},
        )
        hover = client.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 2**31 - 1, "character": 2**31 - 1}},
        )
        assert hover.get("result") is None and "error" not in hover

        symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        assert "result" in symbols  # still serving

        assert "result" in client.request("shutdown", None)
        client.notify("exit", None)
        assert client.process.wait(timeout=20) == 0
    finally:
        if client.process.poll() is None:
            client.process.kill()
        client.process.wait()
        stderr = client.process.stderr.read().decode() if client.process.stderr else ""
    assert "Traceback" not in stderr, stderr


def test_without_pygls_the_command_names_the_extra(tmp_path: Path) -> None:
    blocker = tmp_path / "pygls"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no pygls here', name='pygls')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(SERVER, capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert "wfdsl: error: the language server needs: pip install 'wfdsl-crm[lsp]'" in done.stderr
    assert "Traceback" not in done.stderr
