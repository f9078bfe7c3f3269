"""bench/load.py: what it counts (no timing claims)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import ModuleType

import pytest
from helpers import ROOT, import_file

# A server-like process tree: the parent idles, a live child (a "worker")
# burns CPU, says so, and stays alive.
TREE = """
import os, sys, time
if os.fork() == 0:
    start = time.process_time()
    while time.process_time() - start < 0.3:
        pass
    print("burnt", flush=True)
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""


@pytest.fixture(scope="module")
def load() -> ModuleType:
    return import_file(ROOT / "bench" / "load.py", "bench_load_under_test")


def test_server_cpu_and_faults_count_live_workers(load: ModuleType) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "burnt"
        cpu, faults = load.usage(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert cpu >= 0.25  # the parent alone used a few hundredths
    assert faults > 0


def test_ratios_are_per_round(load: ModuleType) -> None:
    rates = {"bare": [100.0, 50.0], "selfgzip": [90.0, 45.0], "wsgikit": [80.0, 45.0]}
    rates["anchor"] = [40.0, 30.0]
    cpu = {stack: [1.0, 2.0] for stack in rates}
    row = load.summary("gunicorn", "json", rates, cpu, cpu, [1.5, 2.5])
    assert row["wsgikit/bare rounds"] == [0.8, 0.9]
    assert row["wsgikit/anchor rounds"] == [2.0, 1.5]
    assert row["wsgikit/bare"] == pytest.approx(0.85)
    assert row["loadavg"] == [1.5, 2.5]


def test_the_html_page_is_chosen_by_load_page(
    load: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = load.load_apps
    words, pydoc = apps.page("words"), apps.page("pydoc")
    assert words != pydoc
    assert len(words) == 20 * 1024
    assert 15 * 1024 < len(pydoc) < 25 * 1024  # 20,451 bytes on Python 3.11
    assert pydoc.startswith(b"<!DOCTYPE html>") and b"secrets" in pydoc
    assert apps.page("pydoc") == pydoc  # the same page every time
    monkeypatch.setenv("LOAD_PAGE", "pydoc")
    assert apps.page() == pydoc
    monkeypatch.delenv("LOAD_PAGE")
    assert apps.page() == words
    with pytest.raises(ValueError, match="one of words, pydoc"):
        apps.page("lorem")


def test_rows_say_which_page_and_engine(
    load: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    rates = {stack: [100.0] for stack in load.STACKS}
    row = load.summary(
        "waitress", "html", rates, rates, rates, [1.0], page="pydoc", compress="isal:1"
    )
    assert (row["page"], row["compress"]) == ("pydoc", "isal:1")
    plain = load.summary("waitress", "json", rates, rates, rates, [1.0])
    load.print_table([row, plain])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" | ")[1] for line in lines if line.startswith("| waitress")] == [
        "html, pydoc page, --compress isal:1",
        "json",
    ] * 2
