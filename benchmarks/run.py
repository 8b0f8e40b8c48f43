"""The benchmark entry point: generated inputs in, a markdown table (and BENCHMARKS.md) out.

`python -m benchmarks [--tiny] [--only N,...] [--write BENCHMARKS.md]`
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import coldstart, criteria, editor, engine, parsing
from benchmarks.common import FULL, TINY, Row, Size, table

#: Measurement number -> function; every one measures its contenders side by side.
MEASUREMENTS: dict[int, Callable[[Size], list[Row]]] = {
    1: criteria.run,
    2: parsing.run,
    3: coldstart.run,
    4: engine.run_ingest,
    5: engine.run_timers,
    6: engine.run_memory,
    7: engine.run_bpmn,
    8: parsing.run_compile,
    9: editor.run,
}
ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results: begin -->", "<!-- results: end -->"


def machine() -> str:
    """`nproc`, memory and Python version of this machine."""
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except OSError:  # pragma: no cover - not Linux
        mem = "memory unknown"
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {mem}, "
        f"Python {platform.python_version()} ({platform.machine()}, {platform.system()})"
    )


def run(size: Size, only: Sequence[int] = (), echo: Callable[[str], None] = print) -> list[Row]:
    rows: list[Row] = []
    for number, measure in MEASUREMENTS.items():
        if only and number not in only:
            continue
        start = time.perf_counter()
        got = measure(size)
        echo(f"[{number}] {time.perf_counter() - start:.1f} s")
        rows.extend(got)
    return rows


def write(path: Path, text: str) -> None:
    """Replace the results section of `path` (between the markers), or create the file."""
    block = f"{BEGIN}\n{text}{END}"
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if BEGIN in old and END in old:
            head, rest = old.split(BEGIN, 1)
            path.write_text(head + block + rest.split(END, 1)[1], encoding="utf-8")
            return
    path.write_text(f"# Benchmarks\n\n{block}\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--tiny", action="store_true", help="tiny inputs, one round (smoke test)")
    ap.add_argument("--only", default="", help="measurement numbers, e.g. 1,4")
    ap.add_argument("--reps", type=int, default=None, help="rounds per measurement (median)")
    ap.add_argument("--write", metavar="FILE", help="put the table into FILE (BENCHMARKS.md)")
    args = ap.parse_args(argv)
    size = TINY if args.tiny else FULL
    if args.reps is not None:
        import attrs

        size = attrs.evolve(size, reps=args.reps)
    only = [int(x) for x in args.only.split(",") if x.strip()]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = run(size, only, echo=lambda s: print(s, file=sys.stderr))
    command = "python -m benchmarks" + (" --tiny" if args.tiny else "") + (f" --only {args.only}" if only else "")
    text = (
        f"Run {started} with `{command}` (size `{size.name}`, median of {size.reps} "
        f"rounds, contenders interleaved).\nMachine: {machine()}.\n\n{table(rows)}"
    )
    print(text)
    if args.write:
        write(Path(args.write), text)
    return 0
