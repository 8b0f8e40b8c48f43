"""Regenerate docs/schemas/*.json from wfdsl.tools.json_schemas.

python scripts/gen_schemas.py          # rewrite docs/schemas/
python scripts/gen_schemas.py --check  # exit 1 if a committed schema is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wfdsl.tools.json_schemas import all_schemas

OUT = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def main() -> int:
    fresh = {name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n" for name, schema in all_schemas().items()}
    if "--check" in sys.argv[1:]:
        stale = [
            name
            for name, text in fresh.items()
            if not (OUT / name).exists() or (OUT / name).read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"stale in {OUT}: {', '.join(stale)}; run python scripts/gen_schemas.py", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in fresh.items():
        (OUT / name).write_text(text, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
