"""Regenerate docs/checks.md from the rule table and the rules' own pages (src/wfdsl/rules/).

python scripts/gen_checks_docs.py          # rewrite docs/checks.md
python scripts/gen_checks_docs.py --check  # exit 1 if docs/checks.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from wfdsl.rules import checks_page

DOC = Path(__file__).resolve().parents[1] / "docs" / "checks.md"


def main() -> int:
    fresh = checks_page()
    if "--check" in sys.argv[1:]:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if fresh != current:
            print(
                f"{DOC} is stale: edit src/wfdsl/rules/NAME.md (the page is made from them), then run "
                "python scripts/gen_checks_docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
