"""bench/profile_waitress.py: what it counts (no timing claims)."""

from __future__ import annotations

import json
import os
import time
import zlib
from types import ModuleType

import pytest
from helpers import ROOT, import_file, run_wsgi


@pytest.fixture(scope="module")
def profile() -> ModuleType:
    return import_file(ROOT / "bench" / "profile_waitress.py", "bench_profile_waitress")


def test_the_timed_app_counts_requests_and_resets(
    profile: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    compressed: list[bytes] = []
    real = zlib.compress

    def counting(data: bytes) -> bytes:
        compressed.append(data)
        return real(data)

    monkeypatch.setattr(profile.zlib, "compress", counting)
    monkeypatch.setenv("PROFILE_STACK", "zlib")
    app = profile.timed_app()
    for _ in range(3):
        _, body, _ = run_wsgi(app, {"PATH_INFO": "/json"})
        assert b'"ok": true' in b"".join(body)
    # The zlib probe compresses the body it sends, once per request.
    assert compressed == [b"".join(body)] * 3
    _, body, _ = run_wsgi(app, {"PATH_INFO": profile.TIMING_PATH})
    first = json.loads(b"".join(body))
    assert first["requests"] == 3
    assert first["cpu_ns"] > 0 and first["wall_ns"] > 0
    _, body, _ = run_wsgi(app, {"PATH_INFO": profile.TIMING_PATH})
    assert json.loads(b"".join(body)) == {"requests": 0, "cpu_ns": 0, "wall_ns": 0}


def test_samples_are_those_inside_wsgikit_by_last_frame(profile: ModuleType) -> None:
    raw = "\n".join(
        [
            "handler (waitress/task.py:66);sign (wsgikit/_signing.py:133) 5",
            "handler (waitress/task.py:66);app (wsgikit/sessions.py:9);json (json/x.py:1) 2",
            "handler (waitress/task.py:66);sign (wsgikit/_signing.py:133) 1",
            "wait (threading.py:327) 40",
        ]
    )
    assert profile.inside_wsgikit(raw) == [
        ("sign (wsgikit/_signing.py:133)", 6),
        ("json (json/x.py:1)", 2),
    ]


def test_context_switches_of_this_process_are_counted(profile: ModuleType) -> None:
    before = profile.switches(os.getpid())
    os.sched_yield()
    time.sleep(0.01)  # a voluntary switch
    assert profile.switches(os.getpid()) > before
