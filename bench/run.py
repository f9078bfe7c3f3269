"""Per-request cost of wsgikit's middlewares, against the bare app and the
libraries a user would otherwise pick, measured in the same run.

    python bench/run.py                 # every group
    python bench/run.py proxy auth      # groups whose name contains "proxy" or "auth"
    python bench/run.py --rounds 41     # more rounds: tighter medians, slower
    python bench/run.py --json          # machine-readable
    python bench/run.py --clock wall    # elapsed time instead of CPU time

Each case module in ``bench/cases/`` exposes ``cases() -> list[Case]``. A case
belongs to a *group* (one job done on one request) and has a *role*:
``floor`` (the bare app, or plain zlib: the least the job can cost),
``wsgikit`` (ours) or ``anchor`` (what users would otherwise pick). A group's
first ``anchor`` case is the one ``÷anchor+`` divides by; further anchor cases
are shown with their own ratio to it.

How a group is measured (interleaved rounds): every case is first calibrated
to a number of calls that takes about ``--slice`` seconds (20 ms) and warmed
up. Then ``--rounds`` rounds (21) each run every case of the group for one
slice, one after the other, the order rotated by one each round (so no case
always runs first, or right after the same neighbour). A slice gives one
sample: the mean time per call over its calls. The garbage collector is off
inside slices and run between rounds.

Slices are timed by this process's CPU time (``--clock cpu``, the default,
``time.process_time``): on a shared machine, the time other processes hold
the CPU in the middle of a slice would otherwise be counted as ours, and at a
load of 5 on 2 cores that moved the bare app from 0.41 to 0.65 µs between
rounds (0.33-0.34 µs by CPU time). What CPU time still counts is the cost of
sharing: caches and CPU frequency, which per-round figures largely cancel.
``--clock wall`` (``time.perf_counter``) measures elapsed time, on an idle
machine, or where the CPU clock is coarse (a warning says so: on Linux it
counts nanoseconds, elsewhere it may tick every 15 ms).

What is reported, per case: the median time per call over the rounds and its
spread (the interquartile range, q1-q3, and min-max in ``--json``). The
overhead (``+µs``, time minus the floor's), ``×floor`` (time / floor time) and
``÷anchor+`` (our overhead / the anchor's overhead) are computed *per round*,
from the samples of that round only, and then the median (and IQR) of those
per-round figures is taken. A busy machine (other processes, CPU frequency
changes) slows the cases of one round about equally, so per-round figures
cancel most of it, where a figure computed from separate runs would not.
Rounds in which the anchor's overhead is not positive give no ``÷anchor+``
(noise made it meaningless). Spreads are reported so that a figure can be
judged: two rows whose IQRs overlap are not shown to differ.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from harness import Case  # noqa: E402

#: The clocks a slice can be timed by (``--clock``).
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


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


def calibrate(
    case: Case, slice_seconds: float, clock: Callable[[], float] = time.perf_counter
) -> int:
    """The number of calls of ``case`` taking about ``slice_seconds`` (at least 1)."""
    call = case.call
    call()  # warm up (imports, caches)
    number = 1
    while True:
        start = clock()
        for _ in range(number):
            call()
        elapsed = clock() - start
        if elapsed >= slice_seconds / 4 or number >= 1 << 24:
            break
        number *= 2
    return max(1, math.ceil(number * slice_seconds / max(elapsed, 1e-9)))


def run_slice(case: Case, number: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Mean seconds per call over ``number`` calls, by ``clock``."""
    call = case.call
    start = clock()
    for _ in range(number):
        call()
    return (clock() - start) / number


def measure_group(
    members: Sequence[Case],
    rounds: int,
    slice_seconds: float,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Fill each case's ``samples`` (seconds per call, one per round, in round
    order) by interleaved rounds; see the module docstring."""
    numbers = [calibrate(case, slice_seconds, clock) for case in members]
    for case in members:
        case.samples = []
    count = len(members)
    gc_was_enabled = gc.isenabled()
    try:
        for index in range(-1, rounds):  # round -1 warms every case up, unrecorded
            gc.collect()
            gc.disable()
            shift = max(index, 0) % count
            for position in [*range(shift, count), *range(shift)]:
                seconds = run_slice(members[position], numbers[position], clock)
                if index >= 0:
                    members[position].samples.append(seconds)
            gc.enable()
    finally:
        if gc_was_enabled:
            gc.enable()
        else:
            gc.disable()
    for case in members:
        case.median = statistics.median(case.samples)
        case.seconds = case.median


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, quartiles (inclusive method) and extremes of ``values``."""
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "median": statistics.median(ordered),
        "q1": q1,
        "q3": q3,
        "min": ordered[0],
        "max": ordered[-1],
    }


def _scaled(stats: dict[str, float] | None, factor: float) -> dict[str, float] | None:
    return None if stats is None else {key: value * factor for key, value in stats.items()}


def group_rows(group: str, members: Sequence[Case]) -> list[dict[str, Any]]:
    """One row per case, figures per round then medians (see the module docstring)."""
    floor = next((c for c in members if c.role == "floor"), None)
    anchor = next((c for c in members if c.role == "anchor"), None)
    rows = []
    for case in members:
        time_stats = spread(case.samples)
        x_floor = overhead = x_anchor = None
        excluded = 0
        if floor is not None:
            pairs = list(zip(case.samples, floor.samples, strict=True))
            x_floor = spread([ours / base for ours, base in pairs])
            overhead = spread([ours - base for ours, base in pairs])
            if anchor is not None and case.role != "floor" and case is not anchor:
                ratios = []
                for ours, theirs, base in zip(
                    case.samples, anchor.samples, floor.samples, strict=True
                ):
                    if theirs - base > 0:
                        ratios.append((ours - base) / (theirs - base))
                    else:
                        excluded += 1
                x_anchor = spread(ratios) if ratios else None
        if case.role == "floor":
            x_floor = overhead = None
        us_time = _scaled(time_stats, 1e6)
        us_overhead = _scaled(overhead, 1e6)
        rows.append(
            {
                "group": group,
                "case": case.name,
                "role": case.role,
                "rounds": len(case.samples),
                # The headline figures are medians over rounds.
                "us_per_call": us_time["median"] if us_time else None,
                "us_median": us_time["median"] if us_time else None,  # the same, as before
                "us_spread": us_time,
                "x_floor": x_floor["median"] if x_floor else None,
                "x_floor_spread": x_floor,
                "overhead_us": us_overhead["median"] if us_overhead else None,
                "overhead_spread": us_overhead,
                "x_anchor_overhead": x_anchor["median"] if x_anchor else None,
                "x_anchor_spread": x_anchor,
                "x_anchor_rounds_excluded": excluded,
                "note": case.note,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("filter", nargs="*", help="only groups whose name contains one of these")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--rounds",
        "--repeats",  # the option's name before rounds were interleaved
        type=_positive_int,
        default=21,
        help="interleaved rounds per group (default 21)",
    )
    parser.add_argument(
        "--slice",
        "--min-time",  # likewise
        type=_positive_float,
        default=0.02,
        help="seconds each case runs per round (default 0.02)",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: this process's CPU time (default; not counting time other processes"
        " hold the CPU); wall: elapsed time",
    )
    args = parser.parse_args(argv)

    resolution = time.get_clock_info("process_time").resolution
    if args.clock == "cpu" and resolution > args.slice / 100:
        print(
            f"warning: the CPU clock ticks every {resolution * 1000:g} ms, too coarse for"
            f" {args.slice * 1000:g} ms slices: use --clock wall or a longer --slice",
            file=sys.stderr,
        )
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
        measure_group(members, args.rounds, args.slice, CLOCKS[args.clock])
        group_rows_ = group_rows(group, members)
        rows.extend(group_rows_)
        if not args.json:
            print_table(group_rows_, header=True)
            sys.stdout.flush()

    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"\n{args.rounds} interleaved rounds of {args.slice * 1000:g} ms per case"
        f" ({args.clock} time). "
        "Medians over rounds; [q1-q3] the interquartile range.\n"
        "×floor: time / floor time.  +µs: overhead over the floor.  "
        "÷anchor+: our overhead / the anchor's overhead (below 1 = cheaper).\n"
        "×floor, +µs and ÷anchor+ are computed per round (same-round samples), then the median."
    )
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return value


def _fmt(value: float | None, spec: str) -> str:
    width = int(spec.split(".")[0] or 0)
    return "-".rjust(width) if value is None else format(value, spec)


def _range(stats: dict[str, float] | None, spec: str) -> str:
    if stats is None:
        return "-"
    return f"[{format(stats['q1'], spec)}-{format(stats['q3'], spec)}]"


def print_table(rows: list[dict[str, Any]], header: bool = True) -> None:
    if header and rows:
        print(f"\n## {rows[0]['group']}")
        print(
            f"{'case':42} {'role':7} {'µs/call':>8} {'[q1-q3]':>17} {'×floor':>6} "
            f"{'+µs':>7} {'[q1-q3]':>15} {'÷anchor+':>8} {'[q1-q3]':>11}"
        )
    for row in rows:
        # Fewer decimals for slow cases: 0.41 µs, but 29848 µs.
        magnitude = row["us_per_call"] or 0
        spec = ".0f" if magnitude >= 1000 else ".1f" if magnitude >= 100 else ".2f"
        print(
            f"{str(row['case'])[:42]:42} {str(row['role'])[:7]:7} "
            f"{_fmt(row['us_per_call'], '8' + spec)} {_range(row['us_spread'], spec):>17} "
            f"{_fmt(row['x_floor'], '6.2f')} "
            f"{_fmt(row['overhead_us'], '7' + spec)} {_range(row['overhead_spread'], spec):>15} "
            f"{_fmt(row['x_anchor_overhead'], '8.2f')} {_range(row['x_anchor_spread'], '.2f'):>11}"
            + (f"  {row['note']}" if row["note"] else "")
        )


if __name__ == "__main__":
    sys.exit(main())
