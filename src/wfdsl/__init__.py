"""wfdsl: a declarative language for CRM automation workflows."""

from __future__ import annotations

__version__ = "0.1.0"

#: The name the project is installed by (`pip install wfdsl-crm`); the import
#: package and the command are `wfdsl` (that name on PyPI is another project).
DISTRIBUTION = "wfdsl-crm"


def install_command(extra: str | None = None) -> str:
    """The shell command that installs wfdsl, or one of its optional parts.

    For errors that name a missing extra:

    >>> install_command("bench")
    "pip install 'wfdsl-crm[bench]'"
    >>> install_command()
    'pip install wfdsl-crm'
    """
    if extra is None:
        return f"pip install {DISTRIBUTION}"
    return f"pip install '{DISTRIBUTION}[{extra}]'"
