"""bench/run.py: interleaved rounds and per-round figures (no timing claims)."""

from __future__ import annotations

import itertools
import json
from types import ModuleType
from typing import Any

import pytest
from helpers import ROOT, import_file


@pytest.fixture(scope="module")
def run() -> ModuleType:
    return import_file(ROOT / "bench" / "run.py", "bench_run_under_test")


def test_rounds_rotate_the_order_of_the_cases(run: ModuleType) -> None:
    log: list[str] = []
    ticks = itertools.count()

    def clock() -> float:
        return float(next(ticks))  # every slice "takes" 1 s: one call per slice

    def case(name: str) -> object:
        return run.Case("g", name, "wsgikit", lambda: log.append(name))

    members = [case("a"), case("b"), case("c")]
    run.measure_group(members, rounds=4, slice_seconds=0.001, clock=clock)
    # The warm-up round, then rounds starting at a, b, c, a.
    assert "".join(log[-15:]) == "abc" + "abc" + "bca" + "cab" + "abc"
    assert [len(member.samples) for member in members] == [4, 4, 4]


def group_rows(run: ModuleType, **samples: list[float]) -> dict[str, Any]:
    """The rows of group "g" whose cases ``floor``, ``anchor`` and ``ours`` (the
    wsgikit role) took the given times per round, by case name."""
    roles = {"floor": "floor", "anchor": "anchor", "ours": "wsgikit"}
    members = []
    for name, times in samples.items():
        member = run.Case("g", name, roles[name], lambda: None)
        member.samples = times
        members.append(member)
    return {row["case"]: row for row in run.group_rows("g", members)}


def test_overheads_and_ratios_are_medians_of_per_round_figures(run: ModuleType) -> None:
    # Round 2 is slow for everybody: per round, ours costs half the anchor's overhead.
    rows = group_rows(run, floor=[1.0, 5.0, 1.0], anchor=[3.0, 9.0, 3.2], ours=[2.0, 7.0, 2.1])
    row = rows["ours"]
    assert row["overhead_us"] == pytest.approx(1.1e6)  # median of 1.0, 2.0, 1.1 (s -> us)
    assert row["x_anchor_overhead"] == pytest.approx(0.5)  # 0.5, 0.5, 0.55
    # Medians of the times would give (2.1 - 1.0) / (3.2 - 1.0) instead.
    assert row["x_floor"] == pytest.approx(2.0)  # 2.0, 1.4, 2.1
    assert row["us_spread"]["min"] == pytest.approx(2.0e6)
    assert row["us_spread"]["max"] == pytest.approx(7.0e6)
    assert rows["floor"]["overhead_us"] is None


def test_rounds_where_the_anchor_costs_nothing_give_no_ratio(run: ModuleType) -> None:
    rows = group_rows(run, floor=[1.0, 1.0, 1.0], anchor=[2.0, 0.9, 3.0], ours=[1.5, 1.5, 1.5])
    row = rows["ours"]
    assert row["x_anchor_rounds_excluded"] == 1
    assert row["x_anchor_overhead"] == pytest.approx((0.5 + 0.25) / 2)


def test_command_line_json(
    run: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Synthetic cases: the real case modules change logger settings process-wide.
    def cases() -> list[Any]:
        def case(group: str, name: str, role: str) -> Any:
            return run.Case(group, name, role, lambda: sum(range(10)))

        return [
            case("proxy: x", "bare", "floor"),
            case("proxy: x", "theirs", "anchor"),
            case("proxy: x", "ours", "wsgikit"),
            case("auth: y", "bare", "floor"),
        ]

    monkeypatch.setattr(run, "load_cases", cases)
    assert run.main(["proxy", "--json", "--rounds", "3", "--slice", "0.001"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["group"], row["case"]) for row in rows] == [
        ("proxy: x", "bare"),
        ("proxy: x", "theirs"),
        ("proxy: x", "ours"),
    ]
    assert all(row["rounds"] == 3 for row in rows)
    assert rows[2]["x_anchor_overhead"] is not None or rows[2]["x_anchor_rounds_excluded"]
    assert run.main(["auth", "--rounds", "2", "--slice", "0.001", "--clock", "wall"]) == 0
    assert "## auth: y" in capsys.readouterr().out
