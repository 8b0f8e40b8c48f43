"""The language server: LSP messages over stdio in, `analysis` answers out (pygls).

Diagnostics are computed in one worker thread, a short while after the last
change to a project (`debounce`), and a result computed from texts that have
changed since is dropped: a slow project-wide check never holds up typing,
and the editor never sees diagnostics older than what it shows. Requests
(hover, completion…) are answered on the event loop from the current text.
Every handler turns an unexpected exception into a logged message and an
empty answer, so no input an editor sends stops the server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import from_fs_path

from wfdsl import __version__
from wfdsl.diagnostics import Diagnostic, Severity
from wfdsl.tools.formats import help_uri
from wfdsl.tools.lsp.analysis import Workspace
from wfdsl.tools.lsp.edits import did_you_mean_fix
from wfdsl.tools.lsp.values import Completion, LintResult, Pos, Range, Symbol, offset_at, span_range, text_in

#: Seconds of quiet after a change before a project is checked again.
DEFAULT_DEBOUNCE = 0.25

_SEVERITY = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
    Severity.INFO: lsp.DiagnosticSeverity.Information,
}
_COMPLETION_KIND = {
    "keyword": lsp.CompletionItemKind.Keyword,
    "property": lsp.CompletionItemKind.Property,
    "event": lsp.CompletionItemKind.Event,
    "attribute": lsp.CompletionItemKind.Field,
    "workflow": lsp.CompletionItemKind.Module,
    "list": lsp.CompletionItemKind.Value,
    "object": lsp.CompletionItemKind.Class,
    "value": lsp.CompletionItemKind.Value,
}
_SYMBOL_KIND = {
    "workflow": lsp.SymbolKind.Class,
    "trigger": lsp.SymbolKind.Event,
    "clause": lsp.SymbolKind.Namespace,
    "step": lsp.SymbolKind.Method,
    "label": lsp.SymbolKind.Key,
}

log = logging.getLogger("wfdsl.tools.lsp")
P = TypeVar("P")
R = TypeVar("R")


def uri_to_path(uri: str) -> str:
    """A file URI's absolute path; other URIs (`untitled:…`) stay themselves as names."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return os.path.abspath(unquote(parsed.path))
    return uri


class _Answered:
    """A request already answered with an error; the dispatcher passes over it."""

    jsonrpc = "answered"


class _Protocol(LanguageServerProtocol):
    """pygls' protocol, but a request whose params cannot be read gets its error response
    (pygls would log it and leave the client waiting)."""

    def structure_message(self, data: Any) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and isinstance(data.get("id"), int | str) and "method" in data:
                self._send_response(data["id"], error=error.to_response_error())
                return _Answered()
            raise


class WfdslServer(LanguageServer):
    """pygls server with the analysis workspace and the diagnostics scheduler."""

    def __init__(self) -> None:
        super().__init__(
            "wfdsl",
            __version__,
            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
            protocol_cls=_Protocol,
        )
        self.analysis = Workspace(roots=())
        self.debounce = DEFAULT_DEBOUNCE
        self.uris: dict[str, str] = {}  # path -> the URI the client used
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wfdsl-lint")
        self.generation: dict[str, int] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.published: dict[str, tuple[Any, ...]] = {}
        self.problems_shown: set[str] = set()

    # -- positions

    @property
    def encoding(self) -> str:
        try:
            found = self.workspace.position_encoding
        except Exception:  # before initialize
            found = None
        return str(found or lsp.PositionEncodingKind.Utf16)

    def text(self, path: str) -> str:
        return self.analysis.text(path) or ""

    def to_client(self, text: str, rng: Range) -> lsp.Range:
        lines = text.split("\n")
        return lsp.Range(start=self._pos_out(lines, rng.start), end=self._pos_out(lines, rng.end))

    def _pos_out(self, lines: Sequence[str], pos: Pos) -> lsp.Position:
        if pos.line >= len(lines):
            return lsp.Position(line=max(0, len(lines) - 1), character=_units(lines[-1], self.encoding) if lines else 0)
        line = lines[pos.line]
        return lsp.Position(line=pos.line, character=_units(line[: pos.char], self.encoding))

    def from_client(self, text: str, position: lsp.Position) -> Pos:
        lines = text.split("\n")
        line_no = min(max(position.line, 0), len(lines) - 1)
        line = lines[line_no]
        if position.line >= len(lines):
            return Pos(line_no, len(line))
        units = 0
        for index, char in enumerate(line):
            if units >= position.character:
                return Pos(line_no, index)
            units += _units(char, self.encoding)
        return Pos(line_no, len(line))

    def uri(self, path: str) -> str:
        return self.uris.get(path) or from_fs_path(path) or path

    # -- diagnostics

    def schedule(self, path: str) -> None:
        """Check the project of `path` once the edits pause; drop what a later edit makes stale."""
        key = self.analysis.project_key(path)
        generation = self.generation.get(key, 0) + 1
        self.generation[key] = generation
        previous = self.pending.pop(key, None)
        if previous is not None:
            previous.cancel()
        self.pending[key] = asyncio.ensure_future(self._lint_later(key, path, generation))

    async def _lint_later(self, key: str, path: str, generation: int) -> None:
        try:
            await asyncio.sleep(self.debounce)
            documents = self.analysis.snapshot()
            versions = {p: self._version(p) for p in documents}
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self.worker, self.analysis.lint, path, documents)
            if self.generation.get(key) != generation:
                return  # the texts changed while this ran: a newer run follows
            self.publish(result, documents, versions)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # never let one bad run stop the server
            log.exception("checking %s failed", path)
            self.window_log_message(
                lsp.LogMessageParams(type=lsp.MessageType.Error, message=f"wfdsl: checking {path} failed: {error!r}")
            )
        finally:
            if self.pending.get(key) is asyncio.current_task():
                del self.pending[key]

    def _version(self, path: str) -> int | None:
        try:
            return self.workspace.get_text_document(self.uri(path)).version
        except Exception:
            return None

    def publish(self, result: LintResult, documents: dict[str, str], versions: dict[str, int | None]) -> None:
        if result.problem and result.problem not in self.problems_shown:
            self.problems_shown.add(result.problem)
            self.window_show_message(
                lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=f"wfdsl: {result.problem}")
            )
        for path, found in result.files.items():
            text = documents.get(path)
            if text is None:
                text = self.analysis.text(path) or ""
            items = [self.diagnostic(d, text, path) for d in found]
            key = tuple((d.code, d.message, d.range.start.line, d.range.start.character) for d in items)
            if self.published.get(path) == key and path not in documents:
                continue
            self.published[path] = key
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=self.uri(path), diagnostics=items, version=versions.get(path))
            )

    def diagnostic(self, d: Diagnostic, text: str, path: str) -> lsp.Diagnostic:
        rng = self.to_client(text, span_range(d.span))
        related = None
        if d.hint:
            related = [
                lsp.DiagnosticRelatedInformation(
                    location=lsp.Location(uri=self.uri(path), range=rng), message=f"hint: {d.hint}"
                )
            ]
        return lsp.Diagnostic(
            range=rng,
            message=d.message,
            severity=_SEVERITY[d.severity],
            code=d.name,
            code_description=lsp.CodeDescription(href=help_uri(d.name)),
            source="wfdsl",
            related_information=related,
            data={"code": d.code, "hint": d.hint},
        )

    def completion_item(self, item: Completion, text: str) -> lsp.CompletionItem:
        edit = None
        if item.replace is not None:
            edit = lsp.TextEdit(range=self.to_client(text, item.replace), new_text=item.label)
        return lsp.CompletionItem(
            label=item.label,
            kind=_COMPLETION_KIND.get(item.kind, lsp.CompletionItemKind.Text),
            detail=item.detail,
            documentation=(
                lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=item.documentation)
                if item.documentation
                else None
            ),
            text_edit=edit,
        )

    def symbol(self, item: Symbol, text: str) -> lsp.DocumentSymbol:
        return lsp.DocumentSymbol(
            name=item.name or "?",
            kind=_SYMBOL_KIND.get(item.kind, lsp.SymbolKind.Object),
            range=self.to_client(text, item.range),
            selection_range=self.to_client(text, item.selection),
            detail=item.detail,
            children=[self.symbol(child, text) for child in item.children],
        )


def _units(text: str, encoding: str) -> int:
    if encoding == lsp.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == lsp.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _safe(handler: Callable[[WfdslServer, P], R]) -> Callable[[WfdslServer, P], R | None]:
    """A handler that logs an unexpected exception and answers nothing instead of failing."""

    @functools.wraps(handler)
    def run(server: WfdslServer, params: P) -> R | None:
        try:
            return handler(server, params)
        except Exception as error:
            log.exception("%s failed", handler.__name__)
            try:
                server.window_log_message(
                    lsp.LogMessageParams(
                        type=lsp.MessageType.Error, message=f"wfdsl: {handler.__name__} failed: {error!r}"
                    )
                )
            except Exception:
                pass
            return None

    return run


def make_server() -> WfdslServer:
    """The server with every feature registered (not started)."""
    server = WfdslServer()

    @server.feature(lsp.INITIALIZE)
    @_safe
    def initialize(ls: WfdslServer, params: lsp.InitializeParams) -> None:
        roots: list[str] = []
        for folder in params.workspace_folders or ():
            roots.append(uri_to_path(folder.uri))
        if not roots and params.root_uri:
            roots.append(uri_to_path(params.root_uri))
        elif not roots and params.root_path:
            roots.append(os.path.abspath(params.root_path))
        ls.analysis = Workspace(roots=[r for r in roots if os.path.isdir(r)])
        options = params.initialization_options
        if isinstance(options, dict):
            delay = options.get("debounceMs")
            if isinstance(delay, int | float) and not isinstance(delay, bool) and 0 <= delay <= 60_000:
                ls.debounce = delay / 1000

    def _opened(ls: WfdslServer, uri: str) -> None:
        """Take the document's text as pygls keeps it, and check its project soon."""
        document = ls.workspace.text_documents.get(uri)
        if document is None or document._source is None:  # a change to a document never opened
            return
        path = uri_to_path(uri)
        ls.uris[path] = uri
        ls.analysis.open(path, document.source)
        ls.schedule(path)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @_safe
    def did_open(ls: WfdslServer, params: lsp.DidOpenTextDocumentParams) -> None:
        _opened(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    @_safe
    def did_change(ls: WfdslServer, params: lsp.DidChangeTextDocumentParams) -> None:
        _opened(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    @_safe
    def did_save(ls: WfdslServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.analysis.files_changed()
        ls.schedule(uri_to_path(params.text_document.uri))

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @_safe
    def did_close(ls: WfdslServer, params: lsp.DidCloseTextDocumentParams) -> None:
        path = uri_to_path(params.text_document.uri)
        ls.analysis.close(path)
        ls.published.pop(path, None)
        if ls.analysis.project_root(path) is None or not os.path.isfile(path):
            # Alone or unsaved: nothing of it is left to check.
            ls.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
            )
        else:  # the saved file is still part of its project
            ls.schedule(path)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @_safe
    def watched(ls: WfdslServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        ls.analysis.files_changed()
        for path in list(ls.analysis.documents):
            ls.schedule(path)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @_safe
    def hover(ls: WfdslServer, params: lsp.HoverParams) -> lsp.Hover | None:
        path = uri_to_path(params.text_document.uri)
        text = ls.text(path)
        found = ls.analysis.hover(path, ls.from_client(text, params.position))
        if found is None:
            return None
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=found.markdown),
            range=ls.to_client(text, found.range),
        )

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION,
        lsp.CompletionOptions(trigger_characters=[".", '"', "("]),
    )
    @_safe
    def completion(ls: WfdslServer, params: lsp.CompletionParams) -> lsp.CompletionList | None:
        path = uri_to_path(params.text_document.uri)
        text = ls.text(path)
        items = ls.analysis.complete(path, ls.from_client(text, params.position))
        return lsp.CompletionList(is_incomplete=False, items=[ls.completion_item(i, text) for i in items])

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    @_safe
    def definition(ls: WfdslServer, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        path = uri_to_path(params.text_document.uri)
        text = ls.text(path)
        found = ls.analysis.definition(path, ls.from_client(text, params.position))
        return [lsp.Location(uri=ls.uri(f.path), range=ls.to_client(ls.text(f.path), f.range)) for f in found] or None

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_safe
    def symbols(ls: WfdslServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
        path = uri_to_path(params.text_document.uri)
        text = ls.text(path)
        return [ls.symbol(s, text) for s in ls.analysis.symbols(path)]

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    @_safe
    def formatting(ls: WfdslServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        path = uri_to_path(params.text_document.uri)
        text = ls.text(path)
        edits = ls.analysis.format(path)
        if edits is None:
            return None
        return [lsp.TextEdit(range=ls.to_client(text, e.range), new_text=e.text) for e in edits]

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
    )
    @_safe
    def code_action(ls: WfdslServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
        uri = params.text_document.uri
        path = uri_to_path(uri)
        text = ls.text(path)
        actions: list[lsp.CodeAction] = []
        for item in params.context.diagnostics:
            if item.source != "wfdsl":
                continue
            hint = item.data.get("hint") if isinstance(item.data, dict) else None
            if not isinstance(hint, str):
                continue
            rng = Range(ls.from_client(text, item.range.start), ls.from_client(text, item.range.end))
            if offset_at(text, rng.end) < offset_at(text, rng.start):
                continue
            replacement = did_you_mean_fix(text_in(text, rng), hint)
            if replacement is None:
                continue
            actions.append(
                lsp.CodeAction(
                    title=f"Change to `{replacement}`",
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[item],
                    is_preferred=True,
                    edit=lsp.WorkspaceEdit(
                        changes={uri: [lsp.TextEdit(range=ls.to_client(text, rng), new_text=replacement)]}
                    ),
                )
            )
        return actions

    return server


def serve() -> None:
    """Run the server on stdin and stdout until the client says exit."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    # pygls logs every malformed message with a traceback; the client already got
    # its error response, and an editor shows this stream as the server's log.
    logging.getLogger("pygls").setLevel(logging.CRITICAL)
    make_server().start_io()
