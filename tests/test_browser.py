"""Sessions in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright against servers started by the tests on 127.0.0.1.

Marked ``browser``; CI installs Chromium and runs them with the rest.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import RedisServer

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium tries to reach Google's services at every start, and
# this machine's closed network refuses each attempt.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_the_demo_counter_survives_reloads(serve: Callable[..., Any], page: Any) -> None:
    server = serve(None)
    seen = []
    for _ in range(3):
        page.goto(server.url + "/visits")
        seen.append(page.inner_text("body").strip())
    assert seen == [f"You have been here {n} time(s) in this session.\n".strip() for n in (1, 2, 3)]


def test_scripts_cannot_read_the_httponly_session_cookie(
    serve: Callable[..., Any], page: Any
) -> None:
    server = serve(None)
    page.goto(server.url + "/visits")
    page.goto(server.url + "/")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["session"]["httpOnly"] is True
    assert cookies["session"]["value"]
    assert "session=" not in page.evaluate("document.cookie")


def test_a_host_prefixed_secure_cookie_sticks_on_localhost_only_as_chromium_allows(
    serve: Callable[..., Any], page: Any
) -> None:
    """Chromium treats http://localhost as a secure context, so it keeps a
    ``Secure`` ``__Host-`` cookie there; over a plain-http host name that is
    not loopback it would drop it (not testable without a second host)."""
    server = serve("e2e_browser_apps:host_prefixed")
    localhost = server.url.replace("127.0.0.1", "localhost")
    counts = []
    for _ in range(3):
        page.goto(localhost + "/")
        counts.append(json.loads(page.inner_text("body"))["visits"])
    assert counts == [1, 2, 3]
    (cookie,) = page.context.cookies()
    assert cookie["name"] == "__Host-session"
    assert cookie["secure"] is True
    assert cookie["path"] == "/"


def test_an_oversized_session_fails_visibly_and_the_previous_cookie_stays(
    serve: Callable[..., Any], page: Any
) -> None:
    """Chromium drops a cookie over 4 KB; instead of a silent revert the page
    is a 500 problem JSON naming the fix, and the session carries on."""
    server = serve("e2e_browser_apps:oversized")
    page.goto(server.url + "/")
    before = {c["name"]: c["value"] for c in page.context.cookies()}
    response = page.goto(server.url + "/grow")
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = json.loads(page.inner_text("body"))
    assert problem["status"] == 500
    assert {c["name"]: c["value"] for c in page.context.cookies()} == before
    page.goto(server.url + "/")
    assert json.loads(page.inner_text("body"))["visits"] == 2
    assert "SessionTooLarge" in server.stop()  # the log names the cause


def test_a_redis_session_survives_an_app_server_restart(
    serve: Callable[..., Any], page: Any
) -> None:
    redis_server = RedisServer()
    try:
        env = {"E2E_REDIS_URL": redis_server.url}
        server = serve("e2e_browser_apps:stored", env)
        counts = []
        for _ in range(2):
            page.goto(server.url + "/")
            counts.append(json.loads(page.inner_text("body"))["visits"])
        server.stop()
        server = serve("e2e_browser_apps:stored", env)
        page.goto(server.url + "/")
        counts.append(json.loads(page.inner_text("body"))["visits"])
        assert counts == [1, 2, 3]
        (cookie,) = page.context.cookies()
        assert len(cookie["value"]) < 200  # a signed ID, not the data
        assert len(redis_server.client.keys("wsgikit:session:*")) == 1
    finally:
        redis_server.stop()
