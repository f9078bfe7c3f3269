"""ProxyFix behind real WSGI servers: what the app sees under waitress and
gunicorn with their default and the documented settings (docs/deploying.md, "Deploying
behind servers"). Every server runs on 127.0.0.1 on an ephemeral port and is
stopped by its PID.

On 127.0.0.1 the test client is the server's peer: it plays the proxy for
``loopback_app`` (which trusts 127.0.0.1) and an attacker reaching the server
directly for ``elsewhere_app`` (which trusts only 192.0.2.1).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, TESTS_DIR, free_port

from wsgikit.proxy import QUIET_REQUESTS

BIN = Path(sys.executable).parent
FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "shop.example",
}
QUIET_WARNING = "ProxyFix saw none of the forwarded headers it reads"


class Running:
    """A server command (``{port}`` filled in) in a child process."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), str(ROOT), env.get("PYTHONPATH", "")])
        env.pop("FORWARDED_ALLOW_IPS", None)  # gunicorn's default comes from it
        # Output goes to a file (a full pipe would block the server); the
        # child keeps its own copy of the descriptor.
        self.log = log
        with log.open("w") as output:
            self.process = subprocess.Popen(
                [part.replace("{port}", str(self.port)) for part in command],
                env=env,
                cwd=str(TESTS_DIR),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.output: str | None = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early: {self.stop()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not start in time: {self.stop()}")

    def get(self, headers: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(self.url + "/", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            body: dict[str, Any] = json.loads(response.read())
        return body

    def stop(self) -> str:
        """Stop the child by its PID; return what it printed (idempotent)."""
        if self.output is None:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=10)
            self.output = self.log.read_text()
        return self.output


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    servers: list[Running] = []

    def run(*command: str) -> Running:
        server = Running(list(command), tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.stop()


def waitress_serve(target: str, *options: str) -> list[str]:
    return [str(BIN / "waitress-serve"), "--listen=127.0.0.1:{port}", *options, target]


def waitress_in_python(target: str, **options: Any) -> list[str]:
    """``waitress.serve(app, ...)`` as the examples call it."""
    module, _, name = target.partition(":")
    code = (
        f"import waitress, {module}; "
        f"waitress.serve({module}.{name}, host='127.0.0.1', port={{port}}, **{options!r})"
    )
    return [sys.executable, "-c", code]


def gunicorn(*arguments: str) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "--bind=127.0.0.1:{port}",
        "--workers=1",
        "--graceful-timeout=2",
        "--no-control-socket",  # gunicorn 27: else one shared socket in $HOME
        *arguments,
    ]


# --- waitress -----------------------------------------------------------------------


def test_plain_waitress_deletes_the_headers_and_proxy_fix_says_so(start: Any) -> None:
    """The trap: waitress (``waitress-serve``, ``waitress.serve()``, pserve's
    ``egg:waitress#main``) deletes X-Forwarded-* and Forwarded by default, so
    ProxyFix changes nothing; after QUIET_REQUESTS requests it says why, once."""
    server = start(*waitress_serve("e2e_proxy_apps:hop_app"))
    for _ in range(QUIET_REQUESTS + 5):
        body = server.get(FORWARDED)
    assert body["REMOTE_ADDR"] == "127.0.0.1"
    assert body["wsgi.url_scheme"] == "http"
    assert body["forwarded_headers"] == []
    output = server.stop()
    assert output.count(QUIET_WARNING) == 1
    assert "server 'waitress'" in output and "the server removes them" in output
    assert "clear_untrusted_proxy_headers=False" in output


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            waitress_serve("e2e_proxy_apps:loopback_app", "--no-clear-untrusted-proxy-headers"),
            id="waitress-serve --no-clear-untrusted-proxy-headers",
        ),
        pytest.param(
            waitress_in_python("e2e_proxy_apps:loopback_app", clear_untrusted_proxy_headers=False),
            id="waitress.serve(clear_untrusted_proxy_headers=False)",
        ),
    ],
)
def test_waitress_leaving_the_headers_to_proxy_fix(start: Any, command: list[str]) -> None:
    """The documented setting: waitress neither applies nor deletes forwarded
    headers; ProxyFix alone decides."""
    server = start(*command)
    body = server.get({**FORWARDED, "X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
    assert body["REMOTE_ADDR"] == "203.0.113.7"
    assert (body["wsgi.url_scheme"], body["HTTP_HOST"]) == ("https", "shop.example")
    assert body["orig"]["REMOTE_ADDR"] == "127.0.0.1"  # ProxyFix did it
    assert body["x_forwarded_for"] == "203.0.113.7"  # trimmed by clear_untrusted
    assert QUIET_WARNING not in server.stop()


def test_waitress_documented_setting_refuses_a_spoof_from_an_untrusted_peer(start: Any) -> None:
    server = start(
        *waitress_serve("e2e_proxy_apps:elsewhere_app", "--no-clear-untrusted-proxy-headers")
    )
    body = server.get({**FORWARDED, "Forwarded": "for=6.6.6.6;proto=https"})
    assert (body["REMOTE_ADDR"], body["wsgi.url_scheme"]) == ("127.0.0.1", "http")
    assert body["HTTP_HOST"] == f"127.0.0.1:{server.port}"
    assert body["forwarded_headers"] == []  # clear_untrusted deleted them all


def test_waitress_trusted_proxy_alone_keeps_only_the_scheme(start: Any) -> None:
    """``trusted_proxy`` without ``trusted_proxy_headers``: waitress applies
    X-Forwarded-Proto itself and deletes the rest, X-Forwarded-For included."""
    server = start(*waitress_serve("e2e_proxy_apps:hop_app", "--trusted-proxy=127.0.0.1"))
    body = server.get(FORWARDED)
    assert (body["REMOTE_ADDR"], body["wsgi.url_scheme"]) == ("127.0.0.1", "https")
    assert body["forwarded_headers"] == ["HTTP_X_FORWARDED_PROTO"]
    assert body["orig"] == {"wsgi.url_scheme": "https"}  # ProxyFix had nothing to add


def test_waitress_trusted_proxy_headers_make_waitress_the_deciding_layer(start: Any) -> None:
    """With ``trusted_proxy`` and ``trusted_proxy_headers`` waitress applies the
    headers before the app: the peer ProxyFix sees is then the client, so a
    ``trusted=`` ProxyFix believes nothing more. Use one or the other."""
    server = start(
        *waitress_serve(
            "e2e_proxy_apps:loopback_app",
            "--trusted-proxy=127.0.0.1",
            "--trusted-proxy-headers=x-forwarded-for x-forwarded-proto x-forwarded-host",
        )
    )
    body = server.get(FORWARDED)
    assert body["REMOTE_ADDR"] == "203.0.113.7"
    assert (body["wsgi.url_scheme"], body["HTTP_HOST"]) == ("https", "shop.example")
    assert body["orig"] == {  # ProxyFix believed nothing and only cleared the headers
        "HTTP_X_FORWARDED_FOR": "203.0.113.7",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_HOST": "shop.example",
    }


# --- gunicorn -----------------------------------------------------------------------

SPOOFS = [
    pytest.param({"X-Forwarded-Proto": "https"}, id="X-Forwarded-Proto"),
    pytest.param({"X-Forwarded-Ssl": "on"}, id="X-Forwarded-Ssl"),
    pytest.param({"X-Forwarded-Protocol": "ssl"}, id="X-Forwarded-Protocol"),
]


@pytest.fixture
def gunicorn_config(tmp_path: Path) -> str:
    """The documented gunicorn.conf.py: gunicorn believes no scheme header
    from anybody (also not over a unix socket, which forwarded_allow_ips
    does not cover), so ProxyFix alone decides."""
    config = tmp_path / "gunicorn.conf.py"
    config.write_text('forwarded_allow_ips = ""\nsecure_scheme_headers = {}\n')
    return str(config)


def test_gunicorn_default_believes_a_scheme_proxy_fix_refused(start: Any) -> None:
    """The trap: gunicorn trusts 127.0.0.1 (forwarded_allow_ips) and sets
    ``wsgi.url_scheme`` from X-Forwarded-Proto/-Ssl/-Protocol itself; ProxyFix
    refuses the headers of a peer it does not trust, but cannot undo that."""
    server = start(*gunicorn("e2e_proxy_apps:elsewhere_app"))
    for headers in ({"X-Forwarded-Proto": "https"}, {"X-Forwarded-Ssl": "on"}):
        body = server.get(headers)
        assert body["wsgi.url_scheme"] == "https"
        assert "wsgi.url_scheme" not in (body["orig"] or {})  # not ProxyFix's doing


@pytest.mark.parametrize("settings", ["flag", "config"])
def test_gunicorn_documented_settings_leave_the_scheme_to_proxy_fix(
    start: Any, gunicorn_config: str, settings: str
) -> None:
    option = "--forwarded-allow-ips=" if settings == "flag" else f"--config={gunicorn_config}"
    untrusted = start(*gunicorn(option, "e2e_proxy_apps:elsewhere_app"))
    for spoof in SPOOFS:
        body = untrusted.get(spoof.values[0])
        assert (body["REMOTE_ADDR"], body["wsgi.url_scheme"]) == ("127.0.0.1", "http"), spoof.id
    # From a trusted proxy ProxyFix believes X-Forwarded-Proto, and only that.
    trusted = start(*gunicorn(option, "e2e_proxy_apps:loopback_app"))
    body = trusted.get(FORWARDED)
    assert (body["REMOTE_ADDR"], body["wsgi.url_scheme"]) == ("203.0.113.7", "https")
    assert body["orig"]["wsgi.url_scheme"] == "http"  # ProxyFix decided
    assert trusted.get({"X-Forwarded-Ssl": "on"})["wsgi.url_scheme"] == "http"


def test_gunicorn_paste_pipeline(start: Any, tmp_path: Path) -> None:
    """``gunicorn --paste production.ini`` with the proxy_fix filter."""
    ini = tmp_path / "production.ini"
    ini.write_text(
        "[pipeline:main]\npipeline = proxy whoami\n\n"
        "[filter:proxy]\nuse = egg:wsgikit#proxy_fix\n"
        "trusted = 127.0.0.1\nx_host = 1\nclear_untrusted = true\n\n"
        "[app:whoami]\nuse = call:e2e_proxy_apps:make_whoami\n"
    )
    server = start(*gunicorn("--forwarded-allow-ips=", f"--paste={ini}"))
    body = server.get({**FORWARDED, "X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
    assert body["REMOTE_ADDR"] == "203.0.113.7"
    assert (body["wsgi.url_scheme"], body["HTTP_HOST"]) == ("https", "shop.example")
    assert server.get({"X-Forwarded-Ssl": "on"})["wsgi.url_scheme"] == "http"
    assert QUIET_WARNING not in server.stop()


def test_proxy_example_serves_with_the_documented_waitress_setting(start: Any) -> None:
    """examples/flask_behind_proxy.py --serve: waitress leaves the headers to ProxyFix."""
    server = start(
        sys.executable, str(ROOT / "examples" / "flask_behind_proxy.py"), "--serve", "--port={port}"
    )
    body = server.get(FORWARDED)
    assert body["remote_addr"] == "203.0.113.7"
    assert body["url"] == "https://shop.example/"


# --- uWSGI --------------------------------------------------------------------------


def uwsgi(mode: str, target: str) -> list[str]:
    """``--http`` (a router process in front of the worker) or ``--http-socket``
    (the worker speaks HTTP itself)."""
    return [
        str(BIN / "uwsgi"),
        f"--{mode}=127.0.0.1:{{port}}",
        f"--module={target}",
        "--master",
        "--processes=1",
        "--die-on-term",  # SIGTERM stops it (uWSGI 2.0 reloads on SIGTERM otherwise)
        "--need-app",
        "--disable-logging",
        f"--pythonpath={TESTS_DIR}",
        f"--pythonpath={ROOT}",
    ]


UWSGI_MODES = ["http", "http-socket"]


@pytest.mark.parametrize("mode", UWSGI_MODES)
def test_uwsgi_passes_the_headers_and_applies_the_scheme_of_any_peer(start: Any, mode: str) -> None:
    """The trap: uWSGI leaves X-Forwarded-* in the environ (its ``--http``
    router adds no X-Forwarded-For of its own) but sets ``wsgi.url_scheme`` from
    X-Forwarded-Proto (verbatim) or X-Forwarded-Ssl of any peer; ProxyFix
    refuses the untrusted peer's headers but cannot undo that."""
    server = start(*uwsgi(mode, "e2e_proxy_apps:elsewhere_app"))
    assert server.get({})["forwarded_headers"] == []  # nothing added
    body = server.get({"X-Forwarded-Proto": "https"})
    assert (body["REMOTE_ADDR"], body["wsgi.url_scheme"]) == ("127.0.0.1", "https")
    assert "wsgi.url_scheme" not in (body["orig"] or {})  # not ProxyFix's doing
    assert server.get({"X-Forwarded-Ssl": "on"})["wsgi.url_scheme"] == "https"
    assert server.get({"X-Forwarded-Proto": "javascript"})["wsgi.url_scheme"] == "javascript"


@pytest.mark.parametrize("mode", UWSGI_MODES)
def test_uwsgi_merges_underscore_names_into_the_forwarded_headers(start: Any, mode: str) -> None:
    """Unlike gunicorn and Apache, uWSGI keeps ``X_Forwarded_For`` and joins it
    with X-Forwarded-For: the front proxy must drop such names (nginx does)."""
    server = start(*uwsgi(mode, "e2e_proxy_apps:hop_app"))
    body = server.get({"X-Forwarded-For": "203.0.113.7", "X_Forwarded_For": "6.6.6.6"})
    assert body["x_forwarded_for"] == "203.0.113.7, 6.6.6.6"
    assert body["REMOTE_ADDR"] == "6.6.6.6"


@pytest.mark.parametrize("mode", UWSGI_MODES)
def test_uwsgi_documented_wrapper_leaves_the_scheme_to_proxy_fix(start: Any, mode: str) -> None:
    """The documented recipe: the scheme of uWSGI's own connection is put back
    before ProxyFix, which alone decides from then on."""
    untrusted = start(*uwsgi(mode, "e2e_proxy_apps:uwsgi_elsewhere_app"))
    for spoof in SPOOFS:
        body = untrusted.get(spoof.values[0])
        assert (body["REMOTE_ADDR"], body["wsgi.url_scheme"]) == ("127.0.0.1", "http"), spoof.id
    trusted = start(*uwsgi(mode, "e2e_proxy_apps:uwsgi_loopback_app"))
    body = trusted.get({**FORWARDED, "X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
    assert body["REMOTE_ADDR"] == "203.0.113.7"
    assert (body["wsgi.url_scheme"], body["HTTP_HOST"]) == ("https", "shop.example")
    assert body["orig"]["wsgi.url_scheme"] == "http"  # ProxyFix decided
    assert body["x_forwarded_for"] == "203.0.113.7"  # trimmed by clear_untrusted
    assert trusted.get({"X-Forwarded-Ssl": "on"})["wsgi.url_scheme"] == "http"
    assert QUIET_WARNING not in trusted.stop()
