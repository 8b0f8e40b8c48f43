"""The schema: built-in HubSpot properties, config discovery (closest wins), config errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wfdsl.catalog import EVENTS, STANDARD_OBJECT_TYPES
from wfdsl.schema import (
    BUILTIN,
    ConfigError,
    LintSettings,
    load_lint_settings,
    load_schema,
    load_schema_file,
    schema_from_config,
)


def test_builtin_schema_has_hubspot_standard_properties() -> None:
    lifecycle = BUILTIN.property("contact", "lifecyclestage")
    assert lifecycle is not None and lifecycle.options == (
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "evangelist",
        "other",
    )
    assert BUILTIN.property("contact", "date_of_birth").type == "string"  # type: ignore[union-attr]
    assert BUILTIN.property("contact", "hubspotscore").type == "number"  # type: ignore[union-attr]
    assert BUILTIN.property("contact", "createdate").type == "datetime"  # type: ignore[union-attr]
    assert BUILTIN.property("deal", "closedate").type == "date"  # type: ignore[union-attr]
    # stages vary by pipeline and portal: plain strings, no options to refuse a stage by
    assert BUILTIN.property("deal", "dealstage").type == "string"  # type: ignore[union-attr]
    assert BUILTIN.property("ticket", "hs_pipeline_stage").type == "string"  # type: ignore[union-attr]
    assert BUILTIN.property("ticket", "hs_ticket_priority").options[:3] == ("LOW", "MEDIUM", "HIGH")  # type: ignore[union-attr]
    assert "NEW" in BUILTIN.property("contact", "hs_lead_status").options  # type: ignore[union-attr]
    assert all(BUILTIN.property(t, "hubspot_owner_id") for t in STANDARD_OBJECT_TYPES)
    assert BUILTIN.is_builtin


def test_catalog_objects_and_attributes() -> None:
    assert EVENTS["workflow.enrolled"].applies_to("ticket", custom_types=frozenset())
    assert EVENTS["list.added"].applies_to("pet", custom_types=frozenset({"pet"}))
    assert not EVENTS["list.added"].applies_to("ticket", custom_types=frozenset())
    assert EVENTS["email.clicked"].attributes == ("email", "url.raw", "url.original")
    assert EVENTS["list.added"].describe_objects() == "contact, company, deal and custom objects"


def test_no_config_means_builtin(tmp_path: Path) -> None:
    assert load_schema(tmp_path) is BUILTIN


def test_closest_config_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wfdsl.schema.contact]\nouter = "string"\n')
    inner = tmp_path / "flows" / "sub"
    inner.mkdir(parents=True)
    (tmp_path / "flows" / "wfdsl.toml").write_text('[schema.contact]\ninner = "number"\n')
    schema = load_schema(inner / "a.wf")
    assert schema.source == str(tmp_path / "flows" / "wfdsl.toml")
    assert schema.property("contact", "inner") is not None
    assert schema.property("contact", "outer") is None
    assert load_schema(tmp_path).property("contact", "outer") is not None


def test_pyproject_without_tool_wfdsl_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "wfdsl.toml").write_text('[schema.contact]\nfrom_root = "bool"\n')
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_schema(sub).property("contact", "from_root") is not None


def test_wfdsl_toml_beats_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wfdsl.schema.contact]\na = "string"\n')
    (tmp_path / "wfdsl.toml").write_text('[schema.contact]\nb = "string"\n')
    assert load_schema(tmp_path).source == str(tmp_path / "wfdsl.toml")


def test_custom_objects_enumerations_and_builtin_false(tmp_path: Path) -> None:
    config = tmp_path / "wfdsl.toml"
    config.write_text(
        "[schema]\nbuiltin = false\n"
        '[schema.contact]\nemail = "string"\ncolour = { type = "enumeration", options = ["red"] }\n'
        '[schema.custom.pet]\nborn = "date"\n'
    )
    schema = load_schema_file(config)
    assert schema.property("contact", "firstname") is None  # no built-in properties
    assert schema.property("contact", "colour").options == ("red",)  # type: ignore[union-attr]
    assert schema.has_object("pet") and schema.object_types[-1] == "pet"
    assert not schema.is_builtin


def test_a_config_without_schema_table_keeps_builtin_warnings() -> None:
    assert schema_from_config({}, "wfdsl.toml") is BUILTIN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[schema\n", "not valid TOML"),
        (
            '[schema.contact]\nx = "dat"\n',
            "`schema.contact.x`: unknown type `dat`; expected one of",
        ),
        ('[schema.contact]\nx = { type = "enumeration" }\n', "an enumeration needs `options`"),
        ('[schema.contact]\nx = { type = "string", options = ["a"] }\n', "`options` only apply"),
        ('[schema.contact]\nx = { type = "string", colour = 1 }\n', "unknown key `colour`"),
        (
            '[schema.contcat]\nx = "string"\n',
            "not a standard object type (did you mean `contact`?)",
        ),
        ('[schema.custom.deal]\nx = "string"\n', "`deal` is a standard object type"),
        ('[schema]\nbuiltin = "yes"\n', "`schema.builtin` must be true or false"),
        ('[shcema.contact]\nx = "string"\n', "unknown key `shcema`"),
        ("[schema]\ncontact = 3\n", "must be a table of properties"),
        ('[schema.contact]\n"bad name" = "string"\n', "is not a valid property name"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "wfdsl.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_schema(tmp_path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_pyproject_errors_name_the_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wfdsl.schema.contact]\nx = "text"\n')
    with pytest.raises(ConfigError, match=r"`tool\.wfdsl\.schema\.contact\.x`: unknown type `text`"):
        load_schema(tmp_path)


def test_docstring_examples_of_the_lint_modules() -> None:
    import doctest
    import importlib

    for name in (
        "wfdsl.catalog",
        "wfdsl.schema",
        "wfdsl.tools.formats",
        "wfdsl.check",
        "wfdsl.check.context",
        "wfdsl.check.values",
        "wfdsl.api",
    ):
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0, name
        assert result.attempted > 0, name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[lint]\nstrict = 1\n", "`lint.strict` must be true or false"),
        ('[lint]\nselect = "syntax"\n', "`lint.select` must be a list of check names or codes"),
        ("[lint]\nfix = true\n", "unknown key `lint.fix`"),
        ("lint = 3\n", "`lint` must be a table"),
    ],
)
def test_bad_lint_settings(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "wfdsl.toml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_lint_settings(tmp_path)


def test_lint_settings_accept_codes_and_read_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wfdsl.lint]\nignore = ["WF031", "workflow-cycle"]\nstrict = true\n')
    settings = load_lint_settings(tmp_path / "sub" / "a.wf")
    assert settings == LintSettings(ignore=("email-open-criteria", "workflow-cycle"), strict=True)
    assert load_lint_settings(config=tmp_path / "pyproject.toml") == settings
