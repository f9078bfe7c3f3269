"""Per-request cost of wsgikit's middlewares, against the bare app and the
libraries a user would otherwise pick, measured in the same run.

    python bench/run.py                 # every group
    python bench/run.py proxy           # groups whose name contains "proxy"
    python bench/run.py --json          # machine-readable

Each case module in ``bench/cases/`` exposes ``cases() -> list[Case]``. A case
belongs to a *group* (one job done on one request) and has a *role*:
``floor`` (the bare app, or plain zlib: the least the job can cost),
``wsgikit`` (ours) or ``anchor`` (what users would otherwise pick). For every
group the table shows the time per call and, for each non-floor row, its
overhead over the floor and that overhead as a ratio of the anchor's.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from harness import Case  # noqa: E402


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted((HERE / "cases").glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"bench_cases_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cases.extend(module.cases())
    return cases


def measure(case: Case, min_time: float, repeats: int) -> float:
    """Best-of-``repeats`` mean seconds per call, each repeat running >= ``min_time``."""
    call = case.call
    call()  # warm up (imports, caches)
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 5:
            break
        number *= 2
    number = max(1, int(number * (min_time / max(elapsed, 1e-9)) / 5 * 1)) or 1
    results = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(number):
                call()
            results.append((time.perf_counter() - start) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    # The minimum is the least disturbed by the machine; the median is shown too.
    case.median = statistics.median(results)
    return min(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("filter", nargs="*", help="only groups whose name contains one of these")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--min-time", type=float, default=0.2, help="seconds per repeat (default 0.2)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="repeats per case (default 5)")
    args = parser.parse_args(argv)

    cases = [
        case
        for case in load_cases()
        if not args.filter or any(word in case.group for word in args.filter)
    ]
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)

    rows = []
    for group, members in groups.items():
        for case in members:
            case.seconds = measure(case, args.min_time, args.repeats)
        floor = next((c.seconds for c in members if c.role == "floor"), None)
        anchor = next((c.seconds for c in members if c.role == "anchor"), None)
        for case in members:
            overhead = None if floor is None else case.seconds - floor
            anchor_overhead = None if floor is None or anchor is None else anchor - floor
            rows.append(
                {
                    "group": group,
                    "case": case.name,
                    "role": case.role,
                    "us_per_call": case.seconds * 1e6,
                    "us_median": case.median * 1e6,
                    "x_floor": None if not floor else case.seconds / floor,
                    "overhead_us": None if overhead is None else overhead * 1e6,
                    "x_anchor_overhead": (
                        None
                        if overhead is None or not anchor_overhead or case.role == "floor"
                        else overhead / anchor_overhead
                    ),
                    "note": case.note,
                }
            )

    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print_table(rows)
    return 0


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[dict[str, object]]) -> None:
    header = f"{'case':44} {'role':8} {'µs/call':>10} {'×floor':>8} {'+µs':>9} {'÷anchor+':>9}"
    current = None
    for row in rows:
        if row["group"] != current:
            current = row["group"]
            print(f"\n## {current}")
            print(header)
        print(
            f"{str(row['case'])[:44]:44} {str(row['role']):8} "
            f"{_fmt(row['us_per_call'], '10.2f')} {_fmt(row['x_floor'], '8.2f')} "  # type: ignore[arg-type]
            f"{_fmt(row['overhead_us'], '9.2f')} {_fmt(row['x_anchor_overhead'], '9.2f')}"  # type: ignore[arg-type]
            + (f"  {row['note']}" if row["note"] else "")
        )
    print(
        "\n×floor: time / floor time.  +µs: overhead over the floor.  "
        "÷anchor+: our overhead / the anchor's overhead (below 1 = cheaper)."
    )


if __name__ == "__main__":
    sys.exit(main())
