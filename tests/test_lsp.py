"""`wfdsl lsp` end to end: pytest-lsp drives the real server process over stdio."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from lsprotocol.converters import get_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from wfdsl.tools.fmt import format_source

ROOT = Path(__file__).resolve().parents[1]
SERVER = [sys.executable, "-m", "wfdsl", "lsp"]

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCHEMA = """
[schema.contact]
renewal_date = "date"
plan = { type = "enumeration", options = ["free", "pro", "enterprise"] }
"""

NURTURE = """workflow "Nurture" {
  object contact
  enroll on form.submited(form = "Demo")

  steps {
    label "top"
    send email "Welcome"
    add to list "Trial users"
    if contact.plan = "pro" {
      enroll in workflow "Handoff"
    }
    go to "top"
  }
}
"""

HANDOFF = """workflow "Handoff" {
  object contact
  enroll manually
  suppress list "Competitors"

  steps {
    set contact.lifecyclestage = "customer"
  }
}
"""


def _client() -> LanguageClient:
    """The pytest-lsp client, keeping every diagnostics notification (not just the last per file)."""
    client = LanguageClient(converter_factory=get_converter)
    client.history = []  # type: ignore[attr-defined]

    def publish(ls: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
        ls.diagnostics[params.uri] = params.diagnostics
        ls.history.append(params)  # type: ignore[attr-defined]

    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish})
    return client


def _config() -> ClientServerConfig:
    return ClientServerConfig(server_command=SERVER, client_factory=_client)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lsp-project")
    (root / "wfdsl.toml").write_text(SCHEMA, encoding="utf-8")
    (root / "nurture.wf").write_text(NURTURE, encoding="utf-8")
    (root / "sub").mkdir()
    (root / "sub" / "handoff.wf").write_text(HANDOFF, encoding="utf-8")
    return root


def _init(root: Path, debounce_ms: int = 30) -> lsp.InitializeParams:
    return lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=root.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name="project")],
        initialization_options={"debounceMs": debounce_ms},
    )


@pytest_lsp.fixture(config=_config(), scope="module")
async def client(lsp_client: LanguageClient, project: Path) -> Any:
    await lsp_client.initialize_session(_init(project))
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="wfdsl", version=version, text=path.read_text() if text is None else text
            )
        )
    )
    return uri


def _replace_all(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def _diagnostics(
    client: LanguageClient, uri: str, *, version: int | None = None, timeout: float = 20.0
) -> list[lsp.Diagnostic]:
    """The newest diagnostics published for `uri` (for `version`, when given)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for params in reversed(client.history):  # type: ignore[attr-defined]
            if params.uri == uri and (version is None or params.version == version):
                return list(params.diagnostics)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no diagnostics for {uri} (version {version})")


def _pos(text: str, needle: str, offset: int = 0) -> lsp.Position:
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    return lsp.Position(line=line, character=index - (text.rfind("\n", 0, index) + 1))


def _apply(text: str, edits: list[lsp.TextEdit]) -> str:
    def offset(pos: lsp.Position) -> int:
        lines = text.split("\n")
        return sum(len(item) + 1 for item in lines[: pos.line]) + pos.character

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


# ---------------------------------------------------------------- diagnostics


async def test_diagnostics_are_exactly_what_lint_reports(client: LanguageClient, project: Path) -> None:
    uri = _open(client, project / "nurture.wf")
    found = await _diagnostics(client, uri, version=1)
    lint = subprocess.run(
        [sys.executable, "-m", "wfdsl", "lint", "--format", "json", "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    expected = [d for d in json.loads(lint.stdout)["diagnostics"] if d["file"] == "nurture.wf"]
    assert [d["name"] for d in expected] == ["unknown-event"]
    got = [
        {
            "name": d.code,
            "message": d.message,
            "severity": {1: "error", 2: "warning", 3: "info"}[d.severity],
            "hint": d.related_information[0].message.removeprefix("hint: ") if d.related_information else None,
            "range": (d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character),
            "source": d.source,
        }
        for d in found
    ]
    want = [
        {
            "name": d["name"],
            "message": d["message"],
            "severity": d["severity"],
            "hint": d["hint"],
            "range": (d["line"] - 1, d["col"] - 1, d["end_line"] - 1, d["end_col"] - 1),
            "source": "wfdsl",
        }
        for d in expected
    ]
    assert got == want
    assert found[0].code_description is not None and found[0].code_description.href.endswith("#unknown-event")


async def test_project_wide_checks_follow_edits_in_other_open_files(client: LanguageClient, project: Path) -> None:
    nurture = _open(client, project / "nurture.wf", version=1)
    handoff_path = project / "sub" / "handoff.wf"
    handoff = _open(client, handoff_path, version=1)
    await _diagnostics(client, handoff, version=1)
    assert "unknown-workflow" not in [d.code for d in await _diagnostics(client, nurture)]

    _replace_all(client, handoff, HANDOFF.replace('"Handoff"', '"Handover"'), 2)
    await _diagnostics(client, handoff, version=2)
    names = [d.code for d in await _diagnostics(client, nurture)]
    assert "unknown-workflow" in names  # the unsaved rename in the other file counts

    _replace_all(client, handoff, HANDOFF, 3)
    await _diagnostics(client, handoff, version=3)
    assert "unknown-workflow" not in [d.code for d in await _diagnostics(client, nurture)]


async def test_an_unsaved_document_is_checked_alone_and_cleared_when_closed(client: LanguageClient) -> None:
    uri = "untitled:Untitled-1"
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri,
                language_id="wfdsl",
                version=1,
                text='workflow "U" { object contact enroll on form.submited steps { enroll in workflow "Handoff" } }',
            )
        )
    )
    found = await _diagnostics(client, uri, version=1)
    assert [d.code for d in found] == ["unknown-event", "unknown-workflow"]  # alone: no other files
    count = len(client.history)  # type: ignore[attr-defined]
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert await _diagnostics(client, uri, version=None) is not None
    await asyncio.sleep(0.3)
    last = [p for p in client.history[count:] if p.uri == uri]  # type: ignore[attr-defined]
    assert last and list(last[-1].diagnostics) == []


async def test_a_burst_of_edits_is_checked_once_for_the_last_text(project: Path) -> None:
    config = _config()
    client = await config.start()
    try:
        await client.initialize_session(_init(project, debounce_ms=400))
        path = project / "burst.wf"
        uri = _open(client, path, text="", version=1)
        text = ""
        for version in range(2, 40):
            text = 'workflow "Burst" { object contact enroll on form.submited steps { end } }\n'[: version * 2]
            _replace_all(client, uri, text, version)
        final = _diagnostics(client, uri, version=39)
        found = await final
        published = [p.version for p in client.history if p.uri == uri]  # type: ignore[attr-defined]
        assert published[-1] == 39
        assert len(published) <= 3, published  # debounced: not one check per keystroke
        assert [d.code for d in found] == ["unknown-event"]
    finally:
        await client.shutdown_session()
        await client.stop()


# ---------------------------------------------------------------- requests


async def test_hover_property_event_and_step(client: LanguageClient, project: Path) -> None:
    uri = _open(client, project / "nurture.wf")

    async def hover(needle: str, offset: int = 1) -> str:
        found = await client.text_document_hover_async(
            lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=_pos(NURTURE, needle, offset))
        )
        assert found is not None, needle
        assert isinstance(found.contents, lsp.MarkupContent)
        return found.contents.value

    prop = await hover("plan", 1)
    assert "**contact.plan**: enumeration" in prop and '`"enterprise"`' in prop and "wfdsl.toml" in prop
    event = await hover("form = ", 1)
    assert "`form`: attribute of the event `form.submited`" not in event  # unknown event: no attributes
    step = await hover("send email", 2)
    assert 'send email "<name>"' in step and "marketing email" in step
    label = await hover("go to", 1)
    assert "Continues at the label" in label
    workflow = await hover('"Handoff"', 2)
    assert 'workflow "Handoff"' in workflow and "handoff.wf" in workflow


async def test_hover_event_names_its_attributes(client: LanguageClient, project: Path) -> None:
    text = NURTURE.replace("form.submited", "form.submitted")
    uri = _open(client, project / "hover-event.wf", text=text)
    found = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=_pos(text, "submitted"))
    )
    assert found is not None and isinstance(found.contents, lsp.MarkupContent)
    assert "**form.submitted**" in found.contents.value
    assert "`form`, `url`, `url.base`, `url.domain`, `url.path`" in found.contents.value
    attribute = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=_pos(text, "form = ", 1))
    )
    assert attribute is not None and isinstance(attribute.contents, lsp.MarkupContent)
    assert attribute.contents.value.startswith("`form`: attribute of the event `form.submitted`")


async def test_ranges_count_utf16_code_units(client: LanguageClient, project: Path) -> None:
    text = 'workflow "W" { object contact description "\U0001f600\U0001f600" enroll on form.submited steps { end } }\n'
    uri = _open(client, project / "emoji.wf", text=text)
    (found,) = await _diagnostics(client, uri, version=1)
    python_index = text.index("form.submited")
    assert found.range.start == lsp.Position(line=0, character=python_index + 2)  # each emoji is two units
    assert found.range.end.character - found.range.start.character == len("form.submited")
    hover = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=0, character=text.index("contact") + 1),
        )
    )
    assert hover is not None and hover.range is not None
    assert hover.range.start.character == text.index("object")  # before the emoji: the same in both units


async def _complete(client: LanguageClient, uri: str, text: str, needle: str, offset: int) -> list[lsp.CompletionItem]:
    found = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=_pos(text, needle, offset))
    )
    assert isinstance(found, lsp.CompletionList)
    return list(found.items)


async def test_completion_in_context(client: LanguageClient, project: Path) -> None:
    text = (
        'workflow "Draft" {\n'
        "  object contact\n"
        "  enroll \n"
        "  enroll on form.submitted(fo) or form.\n"
        "  goal contact.\n"
        "  steps {\n"
        '    enroll in workflow "\n'
        '    send email "Hi {{ contact.fi\n'
        "  }\n"
        "}\n"
    )
    uri = _open(client, project / "draft.wf", text=text)
    keywords = {i.label for i in await _complete(client, uri, text, "enroll \n", 7)}
    assert {"manually", "on", "when"} <= keywords
    props = {i.label: i for i in await _complete(client, uri, text, "goal contact.", len("goal contact."))}
    assert "renewal_date" in props and props["renewal_date"].detail == "date"  # the project's schema
    assert props["lifecyclestage"].kind == lsp.CompletionItemKind.Property
    attributes = {i.label for i in await _complete(client, uri, text, "(fo)", 3)}
    assert attributes == {"form", "url", "url.base", "url.domain", "url.path"}
    events = {i.label for i in await _complete(client, uri, text, "or form.", len("or form."))}
    assert {"submitted", "viewed", "interacted"} <= events
    workflows = await _complete(client, uri, text, 'workflow "\n', len('workflow "'))
    assert {"Nurture", "Handoff"} <= {i.label for i in workflows}
    tokens = {i.label for i in await _complete(client, uri, text, "{{ contact.fi", len("{{ contact.fi"))}
    assert {"firstname", "renewal_date"} <= tokens  # (Draft does not parse yet)


async def test_completion_of_list_names_and_events_after_enroll_on(client: LanguageClient, project: Path) -> None:
    text = 'workflow "Lists" {\n  object contact\n  enroll on \n  steps {\n    remove from list "\n  }\n}\n'
    uri = _open(client, project / "lists.wf", text=text)
    lists = {i.label for i in await _complete(client, uri, text, 'list "\n', len('list "'))}
    assert {"Trial users", "Competitors"} <= lists  # seen in other files of the project
    events = {i.label for i in await _complete(client, uri, text, "on \n", 3)}
    assert {"form.submitted", "page.visited", "schedule", "not"} <= events


async def test_go_to_definition_of_labels_and_workflows_across_files(client: LanguageClient, project: Path) -> None:
    uri = _open(client, project / "nurture.wf")

    async def definition(needle: str, offset: int) -> list[lsp.Location]:
        found = await client.text_document_definition_async(
            lsp.DefinitionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri), position=_pos(NURTURE, needle, offset)
            )
        )
        assert isinstance(found, list)
        return found

    (label,) = await definition('go to "top"', 8)
    assert label.uri == uri and label.range.start == _pos(NURTURE, '"top"')
    (workflow,) = await definition('workflow "Handoff"', 12)
    assert workflow.uri == (project / "sub" / "handoff.wf").as_uri()
    assert workflow.range.start == lsp.Position(line=0, character=9)

    text = (
        'workflow "Watcher" {\n  object contact\n'
        '  enroll on workflow.enrolled(workflow = "Handoff")\n  steps { end }\n}\n'
    )
    watcher = _open(client, project / "watcher.wf", text=text)
    found = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=lsp.TextDocumentIdentifier(uri=watcher), position=_pos(text, '"Handoff"', 3))
    )
    assert isinstance(found, list) and [f.uri for f in found] == [(project / "sub" / "handoff.wf").as_uri()]


async def test_document_symbols(client: LanguageClient, project: Path) -> None:
    uri = _open(client, project / "nurture.wf")
    found = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    assert found is not None
    (workflow,) = found
    assert isinstance(workflow, lsp.DocumentSymbol)
    assert workflow.name == "Nurture" and workflow.kind == lsp.SymbolKind.Class
    children = workflow.children or []
    assert [c.name for c in children] == ['enroll on form.submited(form = "Demo")', "steps"]
    steps = children[1].children or []
    assert [s.name for s in steps] == [
        'label "top"',
        'send email "Welcome"',
        'add to list "Trial users"',
        'if contact.plan = "pro"',
        'go to "top"',
    ]
    assert [s.name for s in steps[3].children or []] == ['enroll in workflow "Handoff"']


async def test_formatting_gives_the_fmt_result(client: LanguageClient, project: Path) -> None:
    messy = 'workflow "Messy" { steps { delay 1 days  send email "X" } object contact\n}\n'
    uri = _open(client, project / "messy.wf", text=messy)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            options=lsp.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    assert edits
    assert _apply(messy, edits) == format_source(messy)
    broken = _open(client, project / "broken.wf", text='workflow "B" {')
    none = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(
            text_document=lsp.TextDocumentIdentifier(uri=broken),
            options=lsp.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    assert none is None  # like `wfdsl fmt`, a file that does not parse is left alone


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("form.submited", "form.submitted"),  # unknown-event
        ("contact.lifecyclestag ", "contact.lifecyclestage "),  # unknown-property
        ('go to "to"', 'go to "top"'),  # unknown-label
        ('enroll in workflow "Handof"', 'enroll in workflow "Handoff"'),  # unknown-workflow
        ("contcat.plan", "contact.plan"),  # unknown object in a property
        ("  objec contact", "  object contact"),  # syntax: a misspelt keyword
    ],
)
async def test_quick_fix_applies_the_did_you_mean_hint(
    client: LanguageClient, project: Path, before: str, after: str
) -> None:
    good = NURTURE.replace("form.submited", "form.submitted").replace(
        "send email", 'if contact.lifecyclestage = "lead" { end }\n    send email'
    )
    bad = good.replace(after, before, 1)
    assert bad != good, before
    path = project / f"fix-{abs(hash(before))}.wf"
    uri = _open(client, path, text=bad)
    found = await _diagnostics(client, uri, version=1)
    assert found, before
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=found[0].range,
            context=lsp.CodeActionContext(diagnostics=found),
        )
    )
    assert actions, [d.message for d in found]
    action = actions[0]
    assert isinstance(action, lsp.CodeAction) and action.edit is not None and action.edit.changes is not None
    fixed = _apply(bad, action.edit.changes[uri])
    assert fixed == good
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))


# ---------------------------------------------------------------- robustness


def _corpus(count: int) -> list[str]:
    """Texts from the fuzz tests' strategies: valid programs broken by the fuzz mutators."""
    from hypothesis import HealthCheck, given, settings

    from fuzz_helpers import mutated
    from strategies import programs

    texts: list[str] = []

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated(programs(max_workflows=2)))
    def collect(text: str) -> None:
        texts.append(text)

    collect()
    cases = sorted((ROOT / "tests" / "cases" / "syntax_errors").glob("*.wf"))
    texts.extend(p.read_text(encoding="utf-8", errors="replace") for p in cases)
    texts.extend(["", "\x00", "\ufeff", "workflow", '"', "{" * 500, "not " * 300, "é\r\n\r" * 3, "\U0001f600" * 9])
    return texts


async def _hammer(client: LanguageClient, uri: str, texts: list[str], rnd: random.Random) -> int:
    """Open, change (whole and incremental, ranges in and out of the text) and query each text."""
    version = 1
    for text in texts:
        version += 1
        _replace_all(client, uri, text, version)
        version += 1
        line = rnd.randint(0, text.count("\n") + 3)
        start = lsp.Position(line=line, character=rnd.randint(0, 120))
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    lsp.TextDocumentContentChangePartial(
                        range=lsp.Range(start=start, end=start), text=rnd.choice(["{", "}", '"', "x", "\n", "é"])
                    )
                ],
            )
        )
        where = lsp.Position(line=rnd.randint(0, 50), character=rnd.randint(0, 200))
        ident = lsp.TextDocumentIdentifier(uri=uri)
        await client.text_document_hover_async(lsp.HoverParams(text_document=ident, position=where))
        await client.text_document_completion_async(lsp.CompletionParams(text_document=ident, position=where))
        await client.text_document_definition_async(lsp.DefinitionParams(text_document=ident, position=where))
        await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=ident))
    return version


async def test_fuzzed_documents_never_stop_the_server(project: Path) -> None:
    client = await _config().start()
    try:
        await client.initialize_session(_init(project))
        uri = _open(client, project / "fuzz.wf", text="", version=1)
        version = await _hammer(client, uri, _corpus(60), random.Random(7))
        await _diagnostics(client, uri, version=version)  # still checking, and for the last text
        errors = [m.message for m in client.log_messages if m.type == lsp.MessageType.Error]
        assert errors == []
        assert client.error is None
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.slow
async def test_fuzzed_documents_never_stop_the_server_long(project: Path) -> None:
    client = await _config().start()
    try:
        await client.initialize_session(_init(project))
        uri = _open(client, project / "fuzz-long.wf", text="", version=1)
        version = await _hammer(
            client, uri, _corpus(int(os.environ.get("WFDSL_FUZZ_EXAMPLES", "1000"))), random.Random(8)
        )
        await _diagnostics(client, uri, version=version)
        assert [m.message for m in client.log_messages if m.type == lsp.MessageType.Error] == []
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_out_of_range_positions_and_unopened_documents_get_empty_answers(
    client: LanguageClient, project: Path
) -> None:
    uri = _open(client, project / "nurture.wf")
    far = lsp.Position(line=10_000, character=10_000)
    ident = lsp.TextDocumentIdentifier(uri=uri)
    assert await client.text_document_hover_async(lsp.HoverParams(text_document=ident, position=far)) is None
    ghost = lsp.TextDocumentIdentifier(uri=(project / "ghost.wf").as_uri())
    assert await client.text_document_hover_async(lsp.HoverParams(text_document=ghost, position=far)) is None
    listed = await client.text_document_completion_async(lsp.CompletionParams(text_document=ident, position=far))
    assert listed is not None
    found = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=ident))
    assert found


async def test_requests_are_answered_while_a_slow_project_check_runs(tmp_path: Path) -> None:
    source = (ROOT / "examples" / "welcome-series.wf").read_text(encoding="utf-8")
    # Enough files that the check lasts well beyond ten requests, even on a loaded machine
    # (a check of 150 of them took about 0.15 s once parsing got faster: too short to overlap).
    for index in range(800):
        (tmp_path / f"w{index}.wf").write_text(source.replace('"Welcome series"', f'"W{index}"'), encoding="utf-8")
    client = await _config().start()
    try:
        await client.initialize_session(_init(tmp_path, debounce_ms=0))
        text = source.replace('"Welcome series"', '"W0"').replace('"IN_PROGRESS"', '"IN_PROGRES"')
        uri = _open(client, tmp_path / "w0.wf", text=text)
        await asyncio.sleep(0.05)  # the first check of the project (800 files) is under way
        ident = lsp.TextDocumentIdentifier(uri=uri)
        where = _pos(source, "lifecyclestage", 2)
        for _ in range(5):
            hover = await client.text_document_hover_async(lsp.HoverParams(text_document=ident, position=where))
            assert hover is not None
            await client.text_document_completion_async(lsp.CompletionParams(text_document=ident, position=where))
        answered_first = not any(p.uri == uri for p in client.history)  # type: ignore[attr-defined]
        found = await _diagnostics(client, uri, version=1, timeout=120)
        assert answered_first  # ten requests answered before the check they overlapped ended
        assert [d.code for d in found] == ["invalid-option"]
    finally:
        await client.shutdown_session()
        await client.stop()
