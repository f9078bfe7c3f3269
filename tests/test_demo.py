"""The built-in demo: its session key comes from the environment, or is a
labelled development key shared by every process (#12)."""

from __future__ import annotations

import logging

import pytest
import webtest

from wsgikit import demo
from wsgikit.sessions import SessionMiddleware, get_session


def _visits_with_key(key: str, cookie: str) -> int:
    """The visit count a middleware signing with ``key`` reads from ``cookie``."""
    seen: list[int] = []

    def reader(environ: dict[str, object], start_response: object) -> list[bytes]:
        seen.append(get_session(environ).get("visits", 0))
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b""]

    webtest.TestApp(SessionMiddleware(reader, key)).get("/", headers={"Cookie": cookie})
    return seen[0]


def test_without_a_key_every_process_shares_the_labelled_development_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Two demo stacks (two processes, or a restart) read each other's cookies,
    and each start says the key is for development only."""
    monkeypatch.delenv(demo.SECRET_KEY_ENV, raising=False)
    with caplog.at_level(logging.WARNING, "wsgikit.demo"):
        first, second = webtest.TestApp(demo.demo_stack()), webtest.TestApp(demo.demo_stack())
    warnings = [r for r in caplog.records if "WSGIKIT_SECRET_KEY" in r.getMessage()]
    assert len(warnings) == 2 and "development-only" in warnings[0].getMessage()
    first.get("/visits")
    second.set_cookie("session", first.cookies["session"])
    assert "2 time(s)" in second.get("/visits").text
    cookie = "session=" + first.cookies["session"]
    assert _visits_with_key(demo.DEV_ONLY_SECRET_KEY, cookie) == 1


def test_the_key_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = "from-the-environment-" + "k" * 32
    monkeypatch.setenv(demo.SECRET_KEY_ENV, key)
    with caplog.at_level(logging.WARNING, "wsgikit.demo"):
        app = webtest.TestApp(demo.demo_stack())
    assert caplog.records == []
    app.get("/visits")
    app.get("/visits")
    cookie = "session=" + app.cookies["session"]
    assert _visits_with_key(key, cookie) == 2
    assert _visits_with_key(demo.DEV_ONLY_SECRET_KEY, cookie) == 0
