"""wsgikit.proxy: ProxyFix (werkzeug-compatible, trusted networks, RFC 7239,
strict validation) and FakeForwardedFor."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
from conftest import (
    Handshake,
    Layer,
    Server,
    Tracked,
    exc_info_app,
    lazy_app,
    linted,
    make_environ,
    raising_app,
    run_wsgi,
    testapp,
    text_app,
    tracked_app,
    write_app,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from werkzeug.middleware.proxy_fix import ProxyFix as WerkzeugProxyFix

from wsgikit.proxy import FORWARDED_KEY, ORIG_KEY, QUIET_REQUESTS, FakeForwardedFor, ProxyFix

CHANGED_KEYS = (
    "REMOTE_ADDR",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "SCRIPT_NAME",
)
HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
)


class Capture:
    """An app that keeps the environ it was called with."""

    def __init__(self) -> None:
        self.environ: WSGIEnvironment = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.environ = environ
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]


def through(middleware: Any, *args: Any, **kwargs: Any) -> Any:
    """A factory: ``through(ProxyFix, x_for=2)(**environ) -> environ seen by the app``."""

    def run(**environ: Any) -> WSGIEnvironment:
        capture = Capture()
        run_wsgi(middleware(capture, *args, **kwargs), environ)
        return capture.environ

    return run


def seen(environ: WSGIEnvironment) -> dict[str, Any]:
    return {key: environ.get(key) for key in CHANGED_KEYS}


# --- werkzeug compatibility ---------------------------------------------------

BEHIND = {"REMOTE_ADDR": "192.168.0.2", "HTTP_HOST": "spam", "SERVER_NAME": "spam"}
SAME: dict[str, tuple[str, str]] = {}

# (options, headers, differences): the request through werkzeug's ProxyFix and
# ours. ``differences`` maps an environ key to (ours, werkzeug's) where we
# deliberately differ (ProxyFix's docstring lists why); every other key of
# CHANGED_KEYS must be the same. A header value of None deletes the key.
WERKZEUG_CASES = [
    pytest.param({}, {}, SAME, id="no headers"),
    pytest.param(
        {},
        {"HTTP_X_FORWARDED_FOR": "192.168.0.1", "HTTP_X_FORWARDED_PROTO": "https"},
        SAME,
        id="defaults: for and proto",
    ),
    pytest.param(
        {"x_host": 1}, {"HTTP_X_FORWARDED_HOST": "example.com"}, SAME, id="host without port"
    ),
    pytest.param(
        {"x_host": 1}, {"HTTP_X_FORWARDED_HOST": "example.com:8443"}, SAME, id="host with port"
    ),
    pytest.param({"x_port": 1}, {"HTTP_X_FORWARDED_PORT": "8080"}, SAME, id="port alone"),
    pytest.param(
        {"x_host": 1, "x_port": 1},
        {"HTTP_X_FORWARDED_HOST": "example.com:81", "HTTP_X_FORWARDED_PORT": "8080"},
        SAME,
        id="port wins over host's port",
    ),
    pytest.param(
        {"x_port": 1},
        {"HTTP_HOST": "spam:9000", "HTTP_X_FORWARDED_PORT": "8080"},
        SAME,
        id="port replaces Host's port",
    ),
    pytest.param(
        {"x_port": 1},
        {"HTTP_HOST": "[2001:db8::a]:9000", "HTTP_X_FORWARDED_PORT": "8080"},
        SAME,
        id="port replaces IPv6 Host's port",
    ),
    pytest.param(
        {"x_port": 1},
        {"HTTP_HOST": "[::1]", "HTTP_X_FORWARDED_PORT": "8080"},
        SAME,
        id="port added to bracketed IPv6 Host",
    ),
    pytest.param(
        {"x_port": 1},
        {"HTTP_HOST": None, "SERVER_PORT": "9000", "HTTP_X_FORWARDED_PORT": "8080"},
        SAME,
        id="port without Host header",
    ),
    pytest.param({"x_prefix": 1}, {"HTTP_X_FORWARDED_PREFIX": "/bar"}, SAME, id="prefix"),
    pytest.param(
        {"x_for": 2}, {"HTTP_X_FORWARDED_FOR": "192.168.0.1, 192.168.0.3"}, SAME, id="two hops"
    ),
    pytest.param(
        {"x_for": 2}, {"HTTP_X_FORWARDED_FOR": "192.168.0.3"}, SAME, id="fewer values than hops"
    ),
    pytest.param(
        {"x_for": 2}, {"HTTP_X_FORWARDED_FOR": ", 192.168.0.3"}, SAME, id="empty first item"
    ),
    pytest.param(
        {"x_for": 1},
        {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 192.168.0.1"},
        SAME,
        id="spoofed leftmost ignored",
    ),
    pytest.param(
        {"x_for": 0, "x_proto": 0},
        {"HTTP_X_FORWARDED_FOR": "1.2.3.4", "HTTP_X_FORWARDED_PROTO": "https"},
        SAME,
        id="switched off",
    ),
    pytest.param(
        {"x_for": 1},
        {"HTTP_X_FORWARDED_FOR": " 1.2.3.4 ,\t, 5.6.7.8 ,"},
        SAME,
        id="blanks and empty items",
    ),
    pytest.param(
        {"x_for": 2}, {"HTTP_X_FORWARDED_FOR": '"1.2.3.4", "5.6.7.8"'}, SAME, id="quoted items"
    ),
    pytest.param(
        {"x_for": 1}, {"HTTP_X_FORWARDED_FOR": '1.2.3.4, "5.6.7.8'}, SAME, id="unclosed quote"
    ),
    pytest.param({"x_for": 1}, {"HTTP_X_FORWARDED_FOR": ""}, SAME, id="empty header"),
    pytest.param(
        {"x_for": 1}, {"HTTP_X_FORWARDED_FOR": "2001:db8::1, ::1"}, SAME, id="IPv6 entries"
    ),
    pytest.param(
        {"x_for": 3, "x_proto": 2, "x_host": 2},
        {
            "HTTP_X_FORWARDED_FOR": "10.0.0.9, 203.0.113.7, 10.0.0.5, 10.0.0.4",
            "HTTP_X_FORWARDED_PROTO": "https, http",
            "HTTP_X_FORWARDED_HOST": "shop.example, internal:8080",
        },
        SAME,
        id="mixed hop counts",
    ),
    pytest.param(
        {"x_for": 2, "x_prefix": 1},
        {"HTTP_X_FORWARDED_FOR": "192.168.0.1, 192.168.0.3", "HTTP_X_FORWARDED_PREFIX": "/a, /b"},
        SAME,
        id="prefix hops below for hops",
    ),
    pytest.param(
        {"x_host": 1}, {"HTTP_X_FORWARDED_HOST": "[2001:db8::1]"}, SAME, id="IPv6 host, no port"
    ),
    pytest.param(
        {"x_host": 1},
        {"HTTP_X_FORWARDED_HOST": "[2001:db8::1]:8443"},
        SAME,
        id="IPv6 host and port",
    ),
    pytest.param(
        {"x_host": 1, "x_prefix": 1, "x_port": 1},
        {"HTTP_X_FORWARDED_PORT": "443", "HTTP_X_FORWARDED_PREFIX": "/a/b"},
        SAME,
        id="port and prefix without host",
    ),
    pytest.param(
        {"x_for": 1, "x_proto": 1, "x_host": 1, "x_port": 1, "x_prefix": 1},
        {
            "HTTP_HOST": "spam:9000",
            "HTTP_X_FORWARDED_FOR": "192.168.0.1",
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_HOST": "eggs",
            "HTTP_X_FORWARDED_PORT": "443",
            "HTTP_X_FORWARDED_PREFIX": "/ham",
        },
        SAME,
        id="all five",
    ),
    # Valid input werkzeug copies raw, or copies in a form that breaks URLs.
    pytest.param(
        {},
        {"HTTP_X_FORWARDED_FOR": "1.2.3.4:5678"},
        {"REMOTE_ADDR": ("1.2.3.4", "1.2.3.4:5678")},
        id="differs: ip:port",
    ),
    pytest.param(
        {},
        {"HTTP_X_FORWARDED_FOR": "[2001:db8::1]:4711"},
        {"REMOTE_ADDR": ("2001:db8::1", "[2001:db8::1]:4711")},
        id="differs: [v6]:port",
    ),
    pytest.param(
        {},
        {"HTTP_X_FORWARDED_FOR": "[2001:db8::1]"},
        {"REMOTE_ADDR": ("2001:db8::1", "[2001:db8::1]")},
        id="differs: [v6]",
    ),
    pytest.param(
        {},
        {"HTTP_X_FORWARDED_PROTO": "HTTPS"},
        {"wsgi.url_scheme": ("https", "HTTPS")},
        id="differs: upper case scheme",
    ),
    pytest.param(
        {},
        {"HTTP_X_FORWARDED_PROTO": "wss"},
        {"wsgi.url_scheme": ("https", "wss")},
        id="differs: wss is https",
    ),
    pytest.param(
        {},
        {"HTTP_X_FORWARDED_PROTO": "ws"},
        {"wsgi.url_scheme": ("http", "ws")},
        id="differs: ws is http",
    ),
    pytest.param(
        {"x_prefix": 1},
        {"HTTP_X_FORWARDED_PREFIX": "/app/"},
        {"SCRIPT_NAME": ("/app", "/app/")},
        id="differs: prefix trailing slash",
    ),
    pytest.param(
        {"x_port": 1},
        {"HTTP_X_FORWARDED_PORT": "00443"},
        {"SERVER_PORT": ("443", "00443"), "HTTP_HOST": ("spam:443", "spam:00443")},
        id="differs: port with leading zeros",
    ),
    pytest.param(
        {"x_host": 1},
        {"HTTP_X_FORWARDED_HOST": "ex.com:00080"},
        {"SERVER_PORT": ("80", "00080"), "HTTP_HOST": ("ex.com:80", "ex.com:00080")},
        id="differs: host port with leading zeros",
    ),
    pytest.param(
        {"x_host": 1},
        {"HTTP_X_FORWARDED_HOST": "[::1]:08443"},
        {"SERVER_PORT": ("8443", "08443"), "HTTP_HOST": ("[::1]:8443", "[::1]:08443")},
        id="differs: IPv6 host port with leading zero",
    ),
]


def run_both(options: dict[str, int], headers: dict[str, str | None]) -> list[WSGIEnvironment]:
    """The environs werkzeug's ProxyFix and ours hand to the app for one request."""
    results = []
    for middleware in (WerkzeugProxyFix, ProxyFix):
        environ = make_environ(**BEHIND, PATH_INFO="/x")
        for key, value in headers.items():
            if value is None:
                del environ[key]
            else:
                environ[key] = value
        capture = Capture()
        run_wsgi(middleware(capture, **options), environ)
        results.append(capture.environ)
    return results


@pytest.mark.parametrize(("options", "headers", "differences"), WERKZEUG_CASES)
def test_werkzeug_compatibility(
    options: dict[str, int],
    headers: dict[str, str | None],
    differences: dict[str, tuple[str, str]],
) -> None:
    """The same input through werkzeug's ProxyFix and ours: the same environ
    (so the same URL and client for any framework) but for the documented
    differences; our originals agree with werkzeug's."""
    from werkzeug.wrappers import Request

    theirs, ours = run_both(options, headers)
    assert {key: (ours.get(key), theirs.get(key)) for key in differences} == differences
    alike = [key for key in CHANGED_KEYS if key not in differences]
    assert {key: ours.get(key) for key in alike} == {key: theirs.get(key) for key in alike}
    if not differences:
        assert Request(ours).url == Request(theirs).url
        assert Request(ours).remote_addr == Request(theirs).remote_addr

    werkzeug_orig = theirs["werkzeug.proxy_fix.orig"]
    hops = {"x_for": 1, "x_proto": 1, **options}
    read = any(
        headers.get(f"HTTP_X_FORWARDED_{name[2:].upper()}") is not None
        for name in hops
        if hops[name]
    )
    orig = ours.get(ORIG_KEY)
    assert (orig is not None) == read
    changed = {key for key in CHANGED_KEYS if ours.get(key) != werkzeug_orig[key]}
    assert changed <= set(orig or {})
    assert orig in (None, {key: werkzeug_orig[key] for key in orig or {}})


def test_positional_hop_counts_as_in_werkzeug() -> None:
    environ = through(ProxyFix, 2, 1, 1)(
        HTTP_X_FORWARDED_FOR="1.2.3.4, 10.0.0.1", HTTP_X_FORWARDED_HOST="example.com"
    )
    assert (environ["REMOTE_ADDR"], environ["HTTP_HOST"]) == ("1.2.3.4", "example.com")


# --- strict validation --------------------------------------------------------

ORIGINAL = make_environ()

#: A valid value before the invalid one: an invalid hop must not let the one
#: before it through.
EARLIER = {
    "HTTP_X_FORWARDED_FOR": "10.0.0.1",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "good.example",
    "HTTP_X_FORWARDED_PORT": "8443",
    "HTTP_X_FORWARDED_PREFIX": "/good",
    "HTTP_FORWARDED": "for=10.0.0.1;proto=https;host=good.example",
}
#: How the log names each header (" Forwarded " is not "X-Forwarded-For").
LOGGED_AS = {
    "HTTP_X_FORWARDED_FOR": "X-Forwarded-For",
    "HTTP_X_FORWARDED_PROTO": "X-Forwarded-Proto",
    "HTTP_X_FORWARDED_HOST": "X-Forwarded-Host",
    "HTTP_X_FORWARDED_PORT": "X-Forwarded-Port",
    "HTTP_X_FORWARDED_PREFIX": "X-Forwarded-Prefix",
    "HTTP_FORWARDED": " Forwarded ",
}


def invalid(header: str, *cases: tuple[str, str]) -> list[Any]:
    """Rows of INVALID_VALUES: (value, case id) pairs for one header."""
    short = LOGGED_AS[header].strip().removeprefix("X-Forwarded-").lower()
    return [pytest.param(header, value, id=f"{short}: {case}") for value, case in cases]


INVALID_VALUES = [
    *invalid(
        "HTTP_X_FORWARDED_FOR",
        ("not-an-ip", "word"),
        ("1.2.3.4\r\nX-Evil: 1", "CRLF"),
        ("1.2.3.256", "octet too big"),
        ("01.2.3.4", "leading zero"),
        ("1.2.3.4:0", "port 0"),
        ("1.2.3.4:65536", "port too big"),
        ("1.2.3.4:http", "port word"),
        ("fe80::1%eth0", "scope id"),
        ("fe80::1%\r\nX", "scope id with CRLF"),
        ("[1.2.3.4]", "bracketed IPv4"),
        ("[::1", "unclosed bracket"),
        ("[::1]x", "junk after bracket"),
        ("1" * 200, "overlong"),
        ("unknown", "unknown"),
        ("_hidden", "obfuscated"),
        ("1.2.3.4/8", "network"),
        ("١.٢.٣.٤", "arabic digits"),
        ('"1.2.3.4', "unclosed quote"),
    ),
    *invalid(
        "HTTP_X_FORWARDED_PROTO",
        ("ftp", "other scheme"),
        ("https\r\n", "CRLF"),
        ("javascript", "javascript"),
        ("http s", "space"),
    ),
    *invalid(
        "HTTP_X_FORWARDED_HOST",
        ("evil.example/path", "path"),
        ("evil.example\r\nSet-Cookie: a=b", "CRLF"),
        ("user@evil.example", "userinfo"),
        ("evil.example?x", "query"),
        ("evil.example#x", "fragment"),
        ("evil.example:0", "port 0"),
        ("evil.example:99999", "port too big"),
        ("evil.example:", "empty port"),
        ("evil.example:80:80", "two ports"),
        ("ex.com:00000", "port zeros"),
        ("ex.com:000080", "port six digits"),
        ("[::1", "unclosed bracket"),
        ("[zz::1]", "bad IPv6 literal"),
        ("[fe80::1%eth0]", "scope id"),
        ("-evil.example", "leading dash"),
        ("évil.example", "non-ASCII"),
        ("a" * 300, "overlong"),
        ("a b", "space"),
        ("\\\\evil", "backslashes"),
    ),
    *invalid(
        "HTTP_X_FORWARDED_PORT",
        ("0", "zero"),
        ("65536", "too big"),
        ("-1", "negative"),
        ("80abc", "trailing junk"),
        ("٨٠", "arabic digits"),
        ("8080\r\n", "CRLF"),
        ("9" * 50, "overlong"),
        ("000443", "six digits"),
        ("00000", "zeros"),
    ),
    *invalid(
        "HTTP_X_FORWARDED_PREFIX",
        ("//evil.example", "protocol-relative"),
        ("/app//evil", "empty segment"),
        ("app", "relative"),
        ("/app\r\nX: y", "CRLF"),
        ("/app/../admin", "dot-dot"),
        ("/./app", "dot"),
        ("/..", "dot-dot at end"),
        ("/app?x=1", "query"),
        ("/app#x", "fragment"),
        ("/app%2F..", "percent"),
        ("/\\evil.example", "backslash"),
        ("/my app", "space"),
        ("https://evil.example/", "absolute URL"),
    ),
    *invalid(
        "HTTP_FORWARDED",
        ("for=1.2.3.4/evil", "trailing junk"),
        ('for="1.2.3.4', "unclosed quote"),
        ('for="1.2.3.4\r\nX: y"', "CRLF"),
        ("for=_", "empty obfuscated"),
        ("for=", "empty"),
        ("for", "no value"),
        ("proto=gopher", "bad proto"),
        ("host=a/b", "bad host"),
        ("for=1.2.3.4;ext=" + "x" * 1100, "element over 1 KiB"),
    ),
]


@pytest.mark.parametrize(("header", "value"), INVALID_VALUES)
def test_invalid_value_is_ignored_and_logged(
    caplog: pytest.LogCaptureFixture, header: str, value: str
) -> None:
    """An invalid rightmost value changes nothing (not even by letting the
    valid hop before it through), records no original, and is logged."""
    fix = through(ProxyFix, x_host=1, x_port=1, x_prefix=1, forwarded=1)
    with caplog.at_level(logging.DEBUG, logger="wsgikit.proxy"):
        environ = fix(**{header: f"{EARLIER[header]}, {value}"})
    assert seen(environ) == seen(ORIGINAL)
    assert environ[ORIG_KEY] == {}
    assert FORWARDED_KEY not in environ
    assert LOGGED_AS[header] in caplog.text


@pytest.mark.parametrize(
    "host",
    ["evil.com/admin", "::1", "h:1:2", "a\r\nb", "shop.example\n", "x y", "[::1", "[zz]:80",
     "user@host", "h:99999", "h" * 300],
)  # fmt: skip
@pytest.mark.parametrize("trusted", [None, ["10.0.0.0/8"]], ids=["hop count", "trusted"])
def test_x_port_leaves_an_invalid_client_host_alone(
    host: str, trusted: list[str] | None, caplog: pytest.LogCaptureFixture
) -> None:
    """Writing the port into the client's own ``Host`` used to accept anything:
    ``evil.com/admin:443``, ``::443``, ``h:1:443``, CR/LF kept."""
    caplog.set_level(logging.DEBUG, logger="wsgikit.proxy")
    environ = through(ProxyFix, x_port=1, trusted=trusted)(
        REMOTE_ADDR="10.0.0.1", HTTP_HOST=host, HTTP_X_FORWARDED_PORT="443"
    )
    assert environ["HTTP_HOST"] == host
    assert "HTTP_HOST" not in environ[ORIG_KEY]
    assert environ["SERVER_PORT"] == "443"  # the forwarded port itself is valid
    [record] = [r for r in caplog.records if "Host" in r.getMessage()]
    assert record.levelno == logging.DEBUG
    assert "\n" not in record.getMessage()


@pytest.mark.parametrize(
    ("host", "written"),
    [
        pytest.param("shop.example", "shop.example:443", id="name"),
        pytest.param("shop.example:8080", "shop.example:443", id="name:port"),
        pytest.param("[::1]", "[::1]:443", id="IPv6 literal"),
        pytest.param("[2001:db8::1]:8080", "[2001:db8::1]:443", id="IPv6 literal:port"),
        pytest.param("127.0.0.1:80", "127.0.0.1:443", id="IPv4:port"),
    ],
)
def test_x_port_rewrites_a_valid_client_host(host: str, written: str) -> None:
    environ = through(ProxyFix, x_port=1)(HTTP_HOST=host, HTTP_X_FORWARDED_PORT="00443")
    assert (environ["HTTP_HOST"], environ["SERVER_PORT"]) == (written, "443")
    assert environ[ORIG_KEY]["HTTP_HOST"] == host


@settings(max_examples=300, deadline=None)
@given(host=st.text(alphabet="ab1.:[]/@ \r\n%_-", max_size=20) | st.just("[::1]:8080"))
def test_x_port_writes_only_hosts_a_forwarded_host_could_be(host: str) -> None:
    """The client's ``Host`` gets the port exactly when ``X-Forwarded-Host``
    with the same value would have been believed, and then the name stays.
    (Blanks around a list header's value are not part of it; a server strips
    them from Host too.)"""
    assume(host == host.strip(" \t"))
    as_forwarded = through(ProxyFix, x_host=1)(HTTP_X_FORWARDED_HOST=host)
    accepted = "HTTP_HOST" in as_forwarded[ORIG_KEY]
    environ = through(ProxyFix, x_port=1)(HTTP_HOST=host, HTTP_X_FORWARDED_PORT="443")
    if accepted and host:
        assert environ["HTTP_HOST"] == as_forwarded["SERVER_NAME"] + ":443"
    else:
        assert environ["HTTP_HOST"] == host


def test_root_prefix_is_an_empty_script_name() -> None:
    environ = through(ProxyFix, x_prefix=1)(SCRIPT_NAME="/app", HTTP_X_FORWARDED_PREFIX="/")
    assert (environ["SCRIPT_NAME"], environ[ORIG_KEY]) == ("", {"SCRIPT_NAME": "/app"})


@pytest.mark.parametrize(
    ("value", "script_name"),
    [
        pytest.param("/app", "/app", id="one segment"),
        pytest.param("/app/", "/app", id="trailing slash dropped"),
        pytest.param("/a/b/", "/a/b", id="two segments, trailing slash"),
        pytest.param("/a/b-c_d.e~f", "/a/b-c_d.e~f", id="unreserved"),
        pytest.param("/v1/api:x@y", "/v1/api:x@y", id="colon and at"),
        pytest.param("/...", "/...", id="three dots"),
        pytest.param("/a/.well-known", "/a/.well-known", id="dot file"),
    ],
)
def test_clean_prefix_is_believed(value: str, script_name: str) -> None:
    environ = through(ProxyFix, x_prefix=1)(HTTP_X_FORWARDED_PREFIX=value)
    assert environ["SCRIPT_NAME"] == script_name


@pytest.mark.parametrize(
    ("options", "remote", "level"),
    [
        pytest.param({}, "127.0.0.1", logging.DEBUG, id="hop count: any client, DEBUG"),
        pytest.param(
            {"trusted": ["127.0.0.1"]}, "127.0.0.1", logging.WARNING, id="trusted peer: WARNING"
        ),
    ],
)
def test_rejected_value_log_level_and_truncation(
    caplog: pytest.LogCaptureFixture, options: dict[str, Any], remote: str, level: int
) -> None:
    with caplog.at_level(logging.DEBUG, logger="wsgikit.proxy"):
        through(ProxyFix, x_host=1, **options)(
            REMOTE_ADDR=remote, HTTP_X_FORWARDED_HOST="evil/" + "x" * 5000
        )
    (record,) = caplog.records
    assert record.levelno == level and record.name == "wsgikit.proxy"
    assert "X-Forwarded-Host" in record.getMessage() and len(record.getMessage()) < 200


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"HTTP_X_FORWARDED_FOR": "garbage"}, id="for"),
        pytest.param({"HTTP_X_FORWARDED_PROTO": "gopher"}, id="proto"),
        pytest.param({"HTTP_X_FORWARDED_HOST": "a/b"}, id="host"),
        pytest.param({"HTTP_X_FORWARDED_PORT": "0"}, id="port"),
        pytest.param({"HTTP_X_FORWARDED_PREFIX": "//evil"}, id="prefix"),
        pytest.param({"HTTP_FORWARDED": "for=garbage;proto=gopher"}, id="forwarded"),
        pytest.param({"HTTP_X_FORWARDED_FOR": "1.2.3.4" * 2000}, id="too long"),
    ],
)
def test_client_sent_garbage_is_not_logged_as_warning(
    caplog: pytest.LogCaptureFixture, headers: dict[str, str]
) -> None:
    """Hop-count mode believes any client that reaches the app: its garbage
    must not flood the logs at WARNING (nor from an untrusted peer)."""
    options: dict[str, Any] = {"x_host": 1, "x_port": 1, "x_prefix": 1, "forwarded": 1}
    with caplog.at_level(logging.DEBUG, logger="wsgikit.proxy"):
        through(ProxyFix, **options)(**headers)
        through(ProxyFix, trusted=["10.0.0.0/8"], **options)(REMOTE_ADDR="203.0.113.9", **headers)
    assert caplog.records and all(r.levelno == logging.DEBUG for r in caplog.records)


def test_trusted_proxy_passing_garbage_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="wsgikit.proxy"):
        environ = through(ProxyFix, trusted=["10.0.0.0/8"])(
            REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, garbage"
        )
    assert environ["REMOTE_ADDR"] == "10.0.0.1"
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


# --- originals ------------------------------------------------------------------


def test_originals_keyed_by_changed_keys() -> None:
    environ = through(ProxyFix, x_host=1)(
        HTTP_X_FORWARDED_FOR="203.0.113.7",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="shop.example",
    )
    assert environ[ORIG_KEY] == {
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "localhost",
        "SERVER_NAME": "localhost",
    }


def test_originals_record_absent_key_as_none() -> None:
    environ = make_environ(HTTP_X_FORWARDED_HOST="shop.example")
    del environ["HTTP_HOST"]
    capture = Capture()
    ProxyFix(capture, x_host=1)(environ, lambda status, headers, exc_info=None: print)
    assert capture.environ[ORIG_KEY]["HTTP_HOST"] is None
    assert capture.environ["HTTP_HOST"] == "shop.example"


@pytest.mark.parametrize(
    ("headers", "orig"),
    [
        pytest.param({}, None, id="no headers: not set"),
        pytest.param({"HTTP_X_FORWARDED_HOST": "evil.example"}, None, id="header not read"),
        pytest.param({"HTTP_FORWARDED": "for=6.6.6.6"}, None, id="forwarded not read"),
        pytest.param({"HTTP_X_FORWARDED_FOR": "garbage"}, {}, id="only invalid values: empty"),
        pytest.param({"HTTP_X_FORWARDED_FOR": "1.2.3.4" * 9999}, {}, id="too long: empty"),
        pytest.param(
            {"HTTP_X_FORWARDED_FOR": "127.0.0.1"}, {"REMOTE_ADDR": "127.0.0.1"}, id="same value"
        ),
        pytest.param(
            {"HTTP_X_FORWARDED_FOR": "127.0.0.1", "HTTP_X_FORWARDED_PROTO": "http"},
            {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"},
            id="same values",
        ),
    ],
)
def test_originals_of_every_key_written_even_unchanged(
    headers: dict[str, str], orig: dict[str, str] | None
) -> None:
    environ = through(ProxyFix)(**headers)
    assert environ.get(ORIG_KEY) == orig
    assert seen(environ) == seen(ORIGINAL)


def test_originals_behind_fake_forwarded_for_defaults() -> None:
    """The DESIGN defaults on a 127.0.0.1 peer: the client is 127.0.0.1, as
    before, and the original is still recorded."""
    environ = through(FakeForwardedFor)(REMOTE_ADDR="127.0.0.1")
    capture = Capture()
    run_wsgi(FakeForwardedFor(ProxyFix(capture, x_for=1)), {"REMOTE_ADDR": "127.0.0.1"})
    assert environ["HTTP_X_FORWARDED_FOR"].endswith(", 127.0.0.1")
    assert capture.environ[ORIG_KEY] == {"REMOTE_ADDR": "127.0.0.1"}


def test_originals_from_untrusted_peer_are_empty() -> None:
    environ = through(ProxyFix, trusted=["10.0.0.0/8"])(
        REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="6.6.6.6"
    )
    assert (environ["REMOTE_ADDR"], environ[ORIG_KEY]) == ("203.0.113.9", {})


# --- trusted networks ---------------------------------------------------------

TRUSTED = ["10.0.0.0/8", "192.168.1.1", "fd00::/8"]


@pytest.mark.parametrize(
    ("trusted", "remote", "chain", "client"),
    [
        pytest.param(TRUSTED, "10.0.0.1", "203.0.113.7", "203.0.113.7", id="one proxy"),
        pytest.param(
            TRUSTED,
            "10.0.0.1",
            "6.6.6.6, 203.0.113.7, 10.0.0.5, 192.168.1.1",
            "203.0.113.7",
            id="walk",
        ),
        pytest.param(
            TRUSTED, "10.0.0.1", "10.0.0.7, 10.0.0.5", "10.0.0.7", id="all trusted: leftmost"
        ),
        pytest.param(TRUSTED, "203.0.113.9", "1.2.3.4", "203.0.113.9", id="untrusted peer"),
        pytest.param(TRUSTED, "192.168.1.2", "1.2.3.4", "192.168.1.2", id="near miss"),
        pytest.param(TRUSTED, "fd00::1", "2001:db8::7", "2001:db8::7", id="IPv6 peer"),
        pytest.param(
            TRUSTED,
            "10.0.0.1",
            "[2001:db8::7]:443, 10.0.0.3:8080",
            "2001:db8::7",
            id="ports",
        ),
        pytest.param(
            TRUSTED, "10.0.0.1", "6.6.6.6, garbage, 10.0.0.3", "10.0.0.1", id="invalid hop"
        ),
        pytest.param(TRUSTED, "10.0.0.1", "", "10.0.0.1", id="empty chain"),
        pytest.param(TRUSTED, "garbage", "1.2.3.4", "garbage", id="peer not an IP"),
        # IPv4-mapped peers and networks.
        pytest.param(
            TRUSTED, "::ffff:10.0.0.1", "203.0.113.7", "203.0.113.7", id="IPv4-mapped peer"
        ),
        pytest.param(["::ffff:0:0/96"], "127.0.0.1", "6.6.6.6", "6.6.6.6", id="all mapped"),
        pytest.param(
            ["::ffff:0:0/96"], "::ffff:127.0.0.1", "6.6.6.6", "6.6.6.6", id="all mapped, mapped"
        ),
        pytest.param(["::ffff:10.0.0.0/104"], "10.1.2.3", "6.6.6.6", "6.6.6.6", id="mapped /104"),
        pytest.param(
            ["::ffff:10.0.0.0/104"], "11.0.0.1", "6.6.6.6", "11.0.0.1", id="mapped /104 miss"
        ),
        pytest.param(["::ffff:127.0.0.1"], "127.0.0.1", "6.6.6.6", "6.6.6.6", id="mapped address"),
        pytest.param(["::/0"], "127.0.0.1", "6.6.6.6", "127.0.0.1", id="::/0 is not IPv4"),
    ],
)
def test_trusted_mode_client_is_rightmost_untrusted(
    trusted: list[str], remote: str, chain: str, client: str
) -> None:
    environ = through(ProxyFix, trusted=trusted)(REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=chain)
    assert environ["REMOTE_ADDR"] == client


@pytest.mark.parametrize(
    ("remote", "headers", "expected"),
    [
        pytest.param(
            "10.0.0.1",
            {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "shop.example"},
            ("https", "shop.example"),
            id="trusted peer",
        ),
        pytest.param(
            "203.0.113.9",
            {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "shop.example"},
            ("http", "localhost"),
            id="untrusted peer",
        ),
        pytest.param(
            "10.0.0.1",
            {
                "HTTP_X_FORWARDED_FOR": "203.0.113.7, 10.0.0.5",
                "HTTP_X_FORWARDED_PROTO": "http, https, http",
                "HTTP_X_FORWARDED_HOST": "evil.example, shop.example, internal",
            },
            ("https", "shop.example"),
            id="value of the outermost trusted hop",
        ),
        pytest.param(
            "10.0.0.1",
            {
                "HTTP_X_FORWARDED_FOR": "203.0.113.7, 10.0.0.5, 10.0.0.4",
                "HTTP_X_FORWARDED_PROTO": "https",
                "HTTP_X_FORWARDED_HOST": "shop.example",
            },
            ("https", "shop.example"),
            id="single value set by a trusted proxy",
        ),
    ],
)
def test_trusted_mode_believes_proto_and_host_from_trusted_peer_only(
    remote: str, headers: dict[str, str], expected: tuple[str, str]
) -> None:
    environ = through(ProxyFix, x_host=1, trusted=TRUSTED)(REMOTE_ADDR=remote, **headers)
    assert (environ["wsgi.url_scheme"], environ["HTTP_HOST"]) == expected


def test_trusted_mode_port_and_prefix() -> None:
    environ = through(ProxyFix, x_port=1, x_prefix=1, trusted=TRUSTED)(
        REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_PORT="8443", HTTP_X_FORWARDED_PREFIX="/shop"
    )
    assert (environ["SERVER_PORT"], environ["HTTP_HOST"], environ["SCRIPT_NAME"]) == (
        "8443",
        "localhost:8443",
        "/shop",
    )


def test_trusted_mode_with_x_for_off_keeps_remote_addr() -> None:
    environ = through(ProxyFix, x_for=0, trusted=TRUSTED)(
        REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7", HTTP_X_FORWARDED_PROTO="https"
    )
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]) == ("10.0.0.1", "https")


@pytest.mark.parametrize(
    "trusted",
    [
        pytest.param("10.0.0.0/8, 192.168.1.1 fd00::/8", id="one string"),
        pytest.param(
            [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_address("192.168.1.1")],
            id="ipaddress objects",
        ),
        pytest.param(("10.0.0.1/8",), id="host bits set"),
    ],
)
def test_trusted_accepts_several_spellings(trusted: Any) -> None:
    environ = through(ProxyFix, trusted=trusted)(
        REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    assert environ["REMOTE_ADDR"] == "203.0.113.7"


# --- RFC 7239 Forwarded -------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "client", "scheme", "host"),
    [
        # RFC 7239 section 4 examples, trusting the last element.
        pytest.param('for="_gazonk"', "127.0.0.1", "http", "localhost", id="4: obfuscated"),
        pytest.param(
            'For="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17", "http", "localhost", id="4: v6"
        ),
        pytest.param(
            "for=192.0.2.60;proto=http;by=203.0.113.43",
            "192.0.2.60",
            "http",
            "localhost",
            id="4: for proto by",
        ),
        pytest.param(
            "for=192.0.2.43, for=198.51.100.17", "198.51.100.17", "http", "localhost", id="4: two"
        ),
        # Section 7.1.
        pytest.param(
            'for=192.0.2.43, for="[2001:db8:cafe::17]", for=unknown',
            "127.0.0.1",
            "http",
            "localhost",
            id="7.1: unknown last",
        ),
        # Section 7.4.
        pytest.param(
            "for=192.0.2.43,for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com",
            "198.51.100.17",
            "http",
            "example.com",
            id="7.4: host",
        ),
        pytest.param(
            'for=192.0.2.60;proto=https;host="example.com:8443"',
            "192.0.2.60",
            "https",
            "example.com:8443",
            id="quoted host with port",
        ),
        pytest.param(
            "FOR=192.0.2.60;PROTO=HTTPS", "192.0.2.60", "https", "localhost", id="case-insensitive"
        ),
        pytest.param("for=unknown;proto=https", "127.0.0.1", "https", "localhost", id="unknown"),
        pytest.param('for="_x:_port"', "127.0.0.1", "http", "localhost", id="obfuscated port"),
        pytest.param(
            "for=2001:db8::1", "2001:db8::1", "http", "localhost", id="lenient: bare IPv6"
        ),
    ],
)
def test_rfc7239_examples(header: str, client: str, scheme: str, host: str) -> None:
    environ = through(ProxyFix, forwarded=1)(HTTP_FORWARDED=header)
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"], environ["HTTP_HOST"]) == (
        client,
        scheme,
        host,
    )


def test_rfc7239_hops_count_elements() -> None:
    header = 'for=192.0.2.43, for="[2001:db8:cafe::17]", for=unknown'
    assert through(ProxyFix, forwarded=2)(HTTP_FORWARDED=header)["REMOTE_ADDR"] == (
        "2001:db8:cafe::17"
    )
    assert through(ProxyFix, forwarded=3)(HTTP_FORWARDED=header)["REMOTE_ADDR"] == "192.0.2.43"
    assert through(ProxyFix, forwarded=4)(HTTP_FORWARDED=header)["REMOTE_ADDR"] == "127.0.0.1"


def test_rfc7239_several_header_lines_equal_one() -> None:
    """Servers join repeated header lines with commas, in order."""
    lines = ["for=192.0.2.43;proto=https", 'for="[2001:db8::1]:4711";host=a.example']
    one = through(ProxyFix, forwarded=2)(HTTP_FORWARDED=", ".join(lines))
    assert (one["REMOTE_ADDR"], one["wsgi.url_scheme"]) == ("192.0.2.43", "https")
    last = through(ProxyFix, forwarded=1)(HTTP_FORWARDED=",".join(lines))
    assert (last["REMOTE_ADDR"], last["HTTP_HOST"]) == ("2001:db8::1", "a.example")


def test_rfc7239_believed_element_is_exposed() -> None:
    environ = through(ProxyFix, forwarded=1)(
        HTTP_FORWARDED='for="[2001:db8::1]:4711";by=_proxy1;proto=HTTPS;host=x.example;ext=1'
    )
    assert environ[FORWARDED_KEY] == {
        "for": "[2001:db8::1]:4711",
        "by": "_proxy1",
        "proto": "https",
        "host": "x.example",
    }


@pytest.mark.parametrize(
    ("remote", "header", "client", "host"),
    [
        pytest.param(
            "10.0.0.1",
            "for=6.6.6.6;host=evil.example, for=203.0.113.7;host=shop.example, for=10.0.0.5",
            "203.0.113.7",
            "shop.example",
            id="element of the client",
        ),
        pytest.param(
            "10.0.0.1",
            "for=10.0.0.7;host=inner.example, for=10.0.0.5",
            "10.0.0.7",
            "inner.example",
            id="all trusted: first element",
        ),
        pytest.param(
            "10.0.0.1",
            "for=6.6.6.6, for=_hidden;host=shop.example, for=10.0.0.5",
            "10.0.0.1",
            "shop.example",
            id="obfuscated client",
        ),
        pytest.param(
            "203.0.113.9", "for=1.2.3.4;host=evil.example", "203.0.113.9", "localhost", id="peer"
        ),
    ],
)
def test_rfc7239_trusted_mode(remote: str, header: str, client: str, host: str) -> None:
    environ = through(ProxyFix, forwarded=1, trusted=TRUSTED)(
        REMOTE_ADDR=remote, HTTP_FORWARDED=header
    )
    assert (environ["REMOTE_ADDR"], environ["HTTP_HOST"]) == (client, host)


@pytest.mark.parametrize("trusted", [None, TRUSTED], ids=["hop count", "trusted"])
def test_forwarded_wins_over_x_forwarded(trusted: list[str] | None) -> None:
    """for/proto/host come only from Forwarded; X-Forwarded-Port/-Prefix still apply."""
    environ = through(ProxyFix, x_host=1, x_port=1, x_prefix=1, forwarded=1, trusted=trusted)(
        REMOTE_ADDR="10.0.0.1",
        HTTP_FORWARDED="for=203.0.113.7;proto=https",
        HTTP_X_FORWARDED_FOR="6.6.6.6",
        HTTP_X_FORWARDED_PROTO="http",
        HTTP_X_FORWARDED_HOST="evil.example",
        HTTP_X_FORWARDED_PORT="8443",
        HTTP_X_FORWARDED_PREFIX="/shop",
    )
    assert seen(environ) == {
        "REMOTE_ADDR": "203.0.113.7",
        "wsgi.url_scheme": "https",
        "HTTP_HOST": "localhost:8443",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8443",
        "SCRIPT_NAME": "/shop",
    }


def test_x_forwarded_used_when_forwarded_absent() -> None:
    environ = through(ProxyFix, forwarded=1)(HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert environ["REMOTE_ADDR"] == "203.0.113.7"


def test_forwarded_ignored_unless_enabled() -> None:
    environ = through(ProxyFix)(HTTP_FORWARDED="for=6.6.6.6;proto=https")
    assert seen(environ) == seen(ORIGINAL)


# --- clear_untrusted ----------------------------------------------------------

ALL_FORWARDED = {
    "HTTP_FORWARDED": "for=6.6.6.6",
    "HTTP_X_FORWARDED_FOR": "6.6.6.6",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "evil.example",
    "HTTP_X_FORWARDED_PORT": "8443",
    "HTTP_X_FORWARDED_PREFIX": "/x",
}


def test_clear_untrusted_removes_everything_from_untrusted_peer() -> None:
    environ = through(ProxyFix, trusted=TRUSTED, clear_untrusted=True)(
        REMOTE_ADDR="203.0.113.9", **ALL_FORWARDED
    )
    assert not set(HEADERS) & set(environ)
    assert environ[ORIG_KEY] == ALL_FORWARDED
    assert seen(environ) == {**seen(ORIGINAL), "REMOTE_ADDR": "203.0.113.9"}


def test_clear_untrusted_removes_headers_switched_off() -> None:
    environ = through(ProxyFix, trusted=TRUSTED, clear_untrusted=True)(
        REMOTE_ADDR="10.0.0.1", **ALL_FORWARDED
    )
    left = {key for key in HEADERS if key in environ}
    assert left == {"HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO"}
    assert environ["REMOTE_ADDR"] == "6.6.6.6"


def test_clear_untrusted_in_hop_count_mode_removes_overridden_x_headers() -> None:
    environ = through(ProxyFix, forwarded=1, clear_untrusted=True)(**ALL_FORWARDED)
    assert [key for key in HEADERS if key in environ] == ["HTTP_FORWARDED"]
    assert environ["REMOTE_ADDR"] == "6.6.6.6"


FORGED_CHAIN = (
    "for=6.6.6.6;host=evil.example, for=203.0.113.7;proto=HTTPS;host=shop.example;secret=x"
)


@pytest.mark.parametrize(
    ("options", "remote", "header", "kept"),
    [
        pytest.param({"forwarded": 2}, "10.0.0.1", FORGED_CHAIN + ", for=10.0.0.5;by=_lb",
                     "for=203.0.113.7;proto=https;host=shop.example, for=10.0.0.5;by=_lb",
                     id="hops: forged element dropped, believed one reduced"),
        pytest.param({"forwarded": 1}, "10.0.0.1", 'for=203.0.113.7;host="evil/x";by=_a',
                     "for=203.0.113.7;by=_a", id="hops: invalid parameter dropped"),
        pytest.param({"forwarded": 1}, "10.0.0.1", 'for="[2001:db8::1]:4711";host="h:8443"',
                     'for="[2001:db8::1]:4711";host="h:8443"', id="hops: quoted values"),
        pytest.param({"forwarded": 3}, "10.0.0.1", "for=1.2.3.4, for=10.0.0.5", None,
                     id="hops: fewer elements than hops"),
        pytest.param({"forwarded": 1}, "10.0.0.1", "for=garbage;proto=gopher", None,
                     id="hops: nothing valid in the believed element"),
        pytest.param({"forwarded": 2}, "10.0.0.1", "for=garbage, for=10.0.0.5", "for=10.0.0.5",
                     id="hops: only the proxy's element"),
        pytest.param({"forwarded": 1}, "10.0.0.1", 'for="1.2.3.4', None,
                     id="hops: unclosed quote"),
        pytest.param({"forwarded": 1, "trusted": TRUSTED}, "10.0.0.1",
                     FORGED_CHAIN + ", for=10.0.0.5",
                     "for=203.0.113.7;proto=https;host=shop.example, for=10.0.0.5",
                     id="trusted: walked to the client"),
        pytest.param({"forwarded": 1, "trusted": TRUSTED}, "10.0.0.1",
                     "for=10.0.0.9;proto=http, for=10.0.0.5",
                     "for=10.0.0.9;proto=http, for=10.0.0.5",
                     id="trusted: all trusted, leftmost is the client"),
        pytest.param({"forwarded": 1, "trusted": TRUSTED}, "10.0.0.1",
                     "for=6.6.6.6, for=unknown;proto=https;evil=1, for=10.0.0.5",
                     "for=unknown;proto=https, for=10.0.0.5", id="trusted: unknown client"),
        pytest.param({"forwarded": 1, "trusted": TRUSTED}, "203.0.113.9", FORGED_CHAIN, None,
                     id="trusted: untrusted peer"),
    ],
)  # fmt: skip
def test_clear_untrusted_trims_forwarded(
    options: dict[str, Any], remote: str, header: str, kept: str | None
) -> None:
    """``Forwarded`` says only what was believed, like ``X-Forwarded-For``:
    the believed element with its valid parameters, and the proxies' elements
    after it; nothing at all when nothing was believed."""
    environ = through(ProxyFix, clear_untrusted=True, **options)(
        REMOTE_ADDR=remote, HTTP_FORWARDED=header
    )
    assert environ.get("HTTP_FORWARDED") == kept
    assert environ[ORIG_KEY]["HTTP_FORWARDED"] == header
    if kept is not None:
        # What is left reads back as the same believed element.
        again = through(ProxyFix, **options)(REMOTE_ADDR=remote, HTTP_FORWARDED=kept)
        assert again.get(FORWARDED_KEY) == environ.get(FORWARDED_KEY)
        assert seen(again) == seen(environ)


FORWARDED_PARAMETER = st.sampled_from(
    ["for=203.0.113.7", 'for="[2001:db8::1]"', "for=_x", "for=bad", "for=10.0.0.7", "proto=https",
     "proto=ftp",
     "host=shop.example", 'host="a b"', "by=10.0.0.5", "secret=1", 'x="a,b"', ""]
)  # fmt: skip
FORWARDED_ELEMENT = st.lists(FORWARDED_PARAMETER, max_size=4).map(";".join)


@settings(max_examples=150, deadline=None)
@given(
    elements=st.lists(FORWARDED_ELEMENT, min_size=1, max_size=5),
    hops=st.integers(1, 3),
    trusted=st.booleans(),
)
def test_trimmed_forwarded_holds_only_valid_parameters(
    elements: list[str], hops: int, trusted: bool
) -> None:
    options: dict[str, Any] = {"forwarded": hops, "clear_untrusted": True}
    if trusted:
        options["trusted"] = ["10.0.0.0/8"]
    header = ", ".join(elements)
    environ = through(ProxyFix, **options)(REMOTE_ADDR="10.0.0.1", HTTP_FORWARDED=header)
    kept = environ.get("HTTP_FORWARDED")
    if kept is None:
        return
    # Every element left is one of the header's own, or the believed element
    # rebuilt from its validated parameters, which must be the first.
    believed = environ.get(FORWARDED_KEY)
    parts = [part.strip() for part in kept.split(", ")]
    assert set(parts[1:]) <= {element.strip() for element in elements}
    # Nothing left of the believed element survives: at most `hops` elements,
    # or (trusted mode) only trusted proxies' elements after the client's.
    if trusted:
        assert all("for=10.0.0.7" in part for part in parts[1:])
    else:
        assert len(parts) <= hops
    if believed is not None and parts[0] not in elements:
        assert ";".join(f"{name}={value}" for name, value in believed.items()).replace(
            '"', ""
        ) == parts[0].replace('"', "")


def test_headers_stay_without_clear_untrusted() -> None:
    environ = through(ProxyFix, trusted=TRUSTED)(REMOTE_ADDR="203.0.113.9", **ALL_FORWARDED)
    assert {key: environ[key] for key in HEADERS} == ALL_FORWARDED


# --- options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("middleware", "options", "error", "message"),
    [
        pytest.param(ProxyFix, {"x_for": "1"}, TypeError, "x_for", id="x_for str"),
        pytest.param(ProxyFix, {"x_proto": "true"}, TypeError, "x_proto", id="x_proto str"),
        pytest.param(ProxyFix, {"x_host": -1}, ValueError, "x_host", id="x_host negative"),
        pytest.param(ProxyFix, {"x_port": 1.0}, TypeError, "x_port", id="x_port float"),
        pytest.param(ProxyFix, {"x_prefix": None}, TypeError, "x_prefix", id="x_prefix None"),
        pytest.param(ProxyFix, {"forwarded": -2}, ValueError, "forwarded", id="forwarded negative"),
        pytest.param(ProxyFix, {"trusted": []}, ValueError, "trusted", id="trusted empty"),
        pytest.param(
            ProxyFix, {"trusted": ["10.0.0.300"]}, ValueError, "trusted", id="trusted bad"
        ),
        pytest.param(
            ProxyFix, {"trusted": ["fe80::1%eth0"]}, ValueError, "trusted", id="trusted scope"
        ),
        pytest.param(ProxyFix, {"trusted": [10]}, TypeError, "trusted", id="trusted int item"),
        pytest.param(ProxyFix, {"trusted": 10}, TypeError, "trusted", id="trusted int"),
        pytest.param(
            ProxyFix, {"clear_untrusted": "yes"}, TypeError, "clear_untrusted", id="clear str"
        ),
        pytest.param(
            FakeForwardedFor, {"real_ip": "nope"}, ValueError, "real_ip", id="real_ip word"
        ),
        pytest.param(
            FakeForwardedFor, {"real_ip": "1.2.3.4:80"}, ValueError, "real_ip", id="real_ip port"
        ),
        pytest.param(
            FakeForwardedFor, {"real_ip": "fe80::1%eth0"}, ValueError, "real_ip", id="real_ip scope"
        ),
        pytest.param(FakeForwardedFor, {"real_ip": 1}, TypeError, "real_ip", id="real_ip int"),
        pytest.param(
            FakeForwardedFor,
            {"proxies": ["10.0.0.1", "x"]},
            ValueError,
            "proxies",
            id="proxies word",
        ),
        pytest.param(
            FakeForwardedFor, {"proxies": [b"10.0.0.1"]}, TypeError, "proxies", id="proxies bytes"
        ),
        pytest.param(FakeForwardedFor, {"proxies": 5}, TypeError, "proxies", id="proxies int"),
        pytest.param(FakeForwardedFor, {"override": 1}, TypeError, "override", id="override int"),
        pytest.param(FakeForwardedFor, {"proto": "ftp"}, ValueError, "proto", id="proto ftp"),
        pytest.param(FakeForwardedFor, {"host": "a/b"}, ValueError, "host", id="host path"),
        pytest.param(FakeForwardedFor, {"host": "a\r\nb"}, ValueError, "host", id="host CRLF"),
        pytest.param(FakeForwardedFor, {"port": 0}, ValueError, "port", id="port 0"),
        pytest.param(FakeForwardedFor, {"port": "80"}, ValueError, "port", id="port str"),
        pytest.param(FakeForwardedFor, {"prefix": "//evil"}, ValueError, "prefix", id="prefix //"),
        pytest.param(
            FakeForwardedFor, {"forwarded": "yes"}, TypeError, "forwarded", id="forwarded str"
        ),
    ],
)
def test_bad_options_are_rejected(
    middleware: Any, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        middleware(Capture(), **options)


def test_proxy_fix_public_attributes() -> None:
    fix = ProxyFix(Capture(), 2, 0, x_host=1, trusted="10.0.0.0/8", forwarded=1)
    assert (fix.x_for, fix.x_proto, fix.x_host, fix.x_port, fix.x_prefix) == (2, 0, 1, 0, 0)
    assert fix.trusted == (ipaddress.ip_network("10.0.0.0/8"),)
    assert (fix.forwarded, fix.clear_untrusted) == (1, False)


# --- hostile input (hypothesis) -------------------------------------------------

HOST_OK = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_][A-Za-z0-9_.-]*)(:[0-9]{1,5})?")
PREFIX_OK = re.compile(r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+/?")
NASTY = st.sampled_from(
    [",", ";", '"', "\\", "[", "]", ":", "=", "\r", "\n", " ", "%", "/", "_", "for=", "unknown"]
    + [":00080", "00443", "/app/"]
)
ADDRESSY = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda ip: f'"[{ip}]:{ip.packed[0] * 200}"'),
    st.text(max_size=12),
    NASTY,
)
HEADER_VALUE = st.lists(ADDRESSY, max_size=6).map("".join) | st.text(max_size=60)


def assert_sane(before: WSGIEnvironment, environ: WSGIEnvironment) -> None:
    """Every value ProxyFix may write is valid (or untouched)."""
    remote = environ["REMOTE_ADDR"]
    if remote != before["REMOTE_ADDR"]:
        assert "%" not in remote
        ipaddress.ip_address(remote)
    assert environ["wsgi.url_scheme"] in ("http", "https")
    if environ["HTTP_HOST"] != before["HTTP_HOST"]:
        match = HOST_OK.fullmatch(environ["HTTP_HOST"])
        assert match is not None
    assert environ["SERVER_PORT"].isdigit() and 0 < int(environ["SERVER_PORT"]) < 65536
    if environ["SERVER_NAME"] != before["SERVER_NAME"]:
        assert HOST_OK.fullmatch(environ["SERVER_NAME"]) is not None
    script = environ["SCRIPT_NAME"]
    assert script == "" or (PREFIX_OK.fullmatch(script) and "/../" not in script + "/")
    assert not script.endswith("/")
    for key in ("SERVER_PORT", "HTTP_HOST"):
        if environ[key] != before[key]:
            after_literal = environ[key].rpartition("]")[2]
            if key == "SERVER_PORT" or ":" in after_literal:
                assert not after_literal.rpartition(":")[2].startswith("0")
    for value in environ.get(FORWARDED_KEY, {}).values():
        assert not set(value) & set('\r\n ,;"\\/')


HOSTILE_CONFIGS = [
    ProxyFix(Capture(), 2, 1, 1, 1, 1, forwarded=0),
    ProxyFix(Capture(), 1, 1, 1, 1, 1, forwarded=2),
    ProxyFix(Capture(), x_host=1, x_port=1, x_prefix=1, trusted=["0.0.0.0/0", "::/0"]),
    ProxyFix(Capture(), x_host=1, x_prefix=1, forwarded=1, trusted="127.0.0.1 10.0.0.0/8"),
]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=st.sampled_from(range(len(HOSTILE_CONFIGS))),
    values=st.fixed_dictionaries({}, optional={key: HEADER_VALUE for key in HEADERS}),
    remote=st.sampled_from(["127.0.0.1", "10.1.2.3", "::1", "203.0.113.9"]),
)
def test_hostile_headers_never_raise_or_leak(
    config: int, values: dict[str, str], remote: str
) -> None:
    fix = HOSTILE_CONFIGS[config]
    before = make_environ(REMOTE_ADDR=remote, **values)
    environ = dict(before)
    fix(environ, lambda status, headers, exc_info=None: print)
    assert_sane(before, environ)


@settings(max_examples=150, deadline=None)
@given(value=st.text(max_size=80))
def test_hostile_forwarded_elements_never_leak(value: str) -> None:
    trusted = ProxyFix(Capture(), x_host=1, forwarded=1, trusted=["0.0.0.0/0", "::/0"])
    for fix in (ProxyFix(Capture(), forwarded=1), trusted):
        header = f"for=1.2.3.4;{value}, {value}"
        before = make_environ(HTTP_FORWARDED=header)
        environ = dict(before)
        fix(environ, lambda status, headers, exc_info=None: print)
        assert_sane(before, environ)


@settings(max_examples=100, deadline=None)
@given(ip=st.ip_addresses(), port=st.integers(1, 65535))
def test_any_valid_address_with_port_is_believed(ip: Any, port: int) -> None:
    node = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    environ = through(ProxyFix)(HTTP_X_FORWARDED_FOR=node)
    assert ipaddress.ip_address(environ["REMOTE_ADDR"]) == ip
    fwd = through(ProxyFix, forwarded=1)(HTTP_FORWARDED=f'for="{node}"')
    assert ipaddress.ip_address(fwd["REMOTE_ADDR"]) == ip


# --- FakeForwardedFor ---------------------------------------------------------


def test_fake_adds_x_forwarded_for_with_defaults() -> None:
    environ = through(FakeForwardedFor)()
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.1.1.1, 10.3.4.5, 127.0.0.1"
    assert not {"HTTP_X_FORWARDED_PROTO", "HTTP_FORWARDED"} & set(environ)
    assert environ["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("override", "expected"),
    [pytest.param(False, "6.6.6.6", id="kept"), pytest.param(True, "10.1.1.1", id="overridden")],
)
def test_fake_keeps_client_header_unless_override(override: bool, expected: str) -> None:
    environ = through(FakeForwardedFor, proxies=(), override=override, proto="https")(
        HTTP_X_FORWARDED_FOR="6.6.6.6"
    )
    assert environ["HTTP_X_FORWARDED_FOR"] == expected
    assert environ["HTTP_X_FORWARDED_PROTO"] == "https"


def test_fake_sends_every_header_one_value_per_hop() -> None:
    environ = through(
        FakeForwardedFor,
        real_ip="2001:db8::7",
        proxies="10.0.0.5 fd00::1",
        proto="https",
        host="shop.example:8443",
        port=8443,
        prefix="/store",
        forwarded=True,
    )()
    assert environ["HTTP_X_FORWARDED_FOR"] == "2001:db8::7, 10.0.0.5, fd00::1"
    assert environ["HTTP_X_FORWARDED_PROTO"] == "https, https, https"
    assert environ["HTTP_X_FORWARDED_PORT"] == "8443, 8443, 8443"
    assert environ["HTTP_X_FORWARDED_PREFIX"] == "/store, /store, /store"
    extra = ';proto=https;host="shop.example:8443"'
    assert environ["HTTP_FORWARDED"] == (
        f'for="[2001:db8::7]"{extra}, for=10.0.0.5{extra}, for="[fd00::1]"{extra}'
    )


@pytest.mark.parametrize(
    "proxy_fix",
    [
        pytest.param({"x_for": 3, "x_proto": 3, "x_host": 3}, id="hop counts"),
        pytest.param({"x_for": 3, "x_proto": 1, "x_host": 1}, id="hop count 1 for the rest"),
        pytest.param({"x_host": 1, "trusted": ["10.0.0.0/8", "127.0.0.1"]}, id="trusted"),
        pytest.param({"forwarded": 3}, id="forwarded hops"),
        pytest.param({"forwarded": 1, "trusted": ["10.0.0.0/8", "127.0.0.1"]}, id="fwd trusted"),
    ],
)
def test_fake_chain_is_understood_by_proxy_fix(proxy_fix: dict[str, Any]) -> None:
    capture = Capture()
    app = FakeForwardedFor(
        ProxyFix(capture, **proxy_fix),
        real_ip="203.0.113.7",
        proxies=["10.0.0.5", "10.0.0.4"],
        proto="https",
        host="shop.example",
        forwarded=True,
    )
    run_wsgi(app)
    assert seen(capture.environ)["REMOTE_ADDR"] == "203.0.113.7"
    assert (capture.environ["wsgi.url_scheme"], capture.environ["HTTP_HOST"]) == (
        "https",
        "shop.example",
    )


# --- PEP 3333: the response is never touched -------------------------------------

#: Every layer on a request whose headers it reads and rewrites.
LAYERS = [
    pytest.param(lambda inner: ProxyFix(inner, x_host=1), id="ProxyFix"),
    pytest.param(
        lambda inner: ProxyFix(inner, forwarded=1, trusted=["127.0.0.1"], clear_untrusted=True),
        id="ProxyFix trusted",
    ),
    pytest.param(
        lambda inner: FakeForwardedFor(inner, proto="https", forwarded=True, override=True),
        id="FakeForwardedFor",
    ),
]
PROXIED = {
    "HTTP_X_FORWARDED_FOR": "203.0.113.7",
    "HTTP_X_FORWARDED_HOST": "shop.example",
    "HTTP_FORWARDED": "for=203.0.113.7;proto=https",
}


def no_body_app(status: str) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, [])
        return []

    return app


@pytest.mark.parametrize("layer", LAYERS)
def test_response_objects_are_passed_through_untouched(layer: Layer) -> None:
    """No start_response or iterable wrapper: the app gets the server's
    start_response itself, and the server the app's iterable itself."""
    tracked = Tracked([b"a", b"b"])
    handed: list[StartResponse] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        handed.append(start_response)
        return tracked

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return print

    assert layer(app)(make_environ(**PROXIED), start_response) is tracked
    assert handed == [start_response]
    assert tracked.closes == 0


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize(
    ("app", "method"),
    [
        pytest.param(write_app(), "GET", id="write() callable"),
        pytest.param(lazy_app(), "GET", id="lazy generator"),
        pytest.param(exc_info_app(), "GET", id="start_response with exc_info"),
        pytest.param(text_app(), "HEAD", id="HEAD"),
        pytest.param(no_body_app("204 No Content"), "GET", id="204"),
        pytest.param(no_body_app("304 Not Modified"), "GET", id="304"),
    ],
)
def test_responses_are_what_the_app_sent(app: WSGIApplication, method: str, layer: Layer) -> None:
    """Under wsgiref.validate on both sides, the server gets exactly what it
    would get from the app alone."""
    environ = {"REQUEST_METHOD": method, **PROXIED}
    expected = run_wsgi(linted(app), environ)[:2]
    assert expected[0]  # the app answered
    assert run_wsgi(linted(app, layer), environ)[:2] == expected


@pytest.mark.parametrize("layer", LAYERS)
def test_app_errors_propagate_and_close_once(layer: Layer) -> None:
    with pytest.raises(RuntimeError, match="secret internal detail"):
        run_wsgi(linted(raising_app, layer), PROXIED)

    failing = Tracked([b"one", b"two"], fail_at=1)
    with pytest.raises(RuntimeError, match="boom at chunk 1"):
        run_wsgi(linted(tracked_app(failing), layer), PROXIED)
    assert (failing.served, failing.closes) == (1, 1)

    finished = Tracked([b"one", b"two"])
    run_wsgi(linted(tracked_app(finished), layer), PROXIED)
    assert (finished.served, finished.closes) == (2, 1)


@pytest.mark.parametrize("layer", LAYERS)
def test_body_streams(layer: Layer) -> None:
    handshake = Handshake()
    assert handshake.drive(layer(handshake), PROXIED) == [b"first", b"second"]
    assert handshake.second_produced


# --- lint, real frameworks, server, PasteDeploy --------------------------------


def test_both_pass_wsgi_lint(echo_app: WSGIApplication) -> None:
    app = testapp(
        echo_app,
        lambda inner: FakeForwardedFor(inner, real_ip="203.0.113.7", proxies=(), proto="https"),
        lambda inner: ProxyFix(inner),
    )
    body = app.get("/", extra_environ={"REMOTE_ADDR": "127.0.0.1"}).json
    assert (body["REMOTE_ADDR"], body["wsgi.url_scheme"]) == ("203.0.113.7", "https")
    assert body[ORIG_KEY] == {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"}


@pytest.fixture
def echo_app() -> WSGIApplication:
    from conftest import echo_environ_app

    return echo_environ_app


def test_framework_behind_fake_proxy_and_proxy_fix(framework_app: WSGIApplication) -> None:
    app = testapp(
        framework_app,
        lambda inner: FakeForwardedFor(
            inner, real_ip="2001:db8::7", proto="https", host="shop.example", prefix="/store"
        ),
        lambda inner: ProxyFix(
            inner, x_host=1, x_prefix=1, trusted=["10.0.0.0/8", "127.0.0.1"], clear_untrusted=True
        ),
    )
    body = app.get("/env", extra_environ={"REMOTE_ADDR": "10.0.0.1"}).json
    assert body["remote_addr"] == "2001:db8::7"
    assert body["scheme"] == "https"
    assert body["host_url"] == "https://shop.example/"
    assert body["url"] == "https://shop.example/store/env"


@pytest.mark.parametrize(
    "layer",
    [
        pytest.param(lambda inner: ProxyFix(inner, x_host=1), id="ours"),
        pytest.param(lambda inner: WerkzeugProxyFix(inner, x_host=1), id="werkzeug"),
    ],
)
def test_framework_sees_same_request_as_behind_werkzeug(
    flask_app: WSGIApplication, pyramid_app: WSGIApplication, layer: Any
) -> None:
    headers = {
        "X-Forwarded-For": "203.0.113.7, 10.0.0.5",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "shop.example:8443",
    }
    for app in (flask_app, pyramid_app):
        body = testapp(app, layer).get("/env", headers=headers).json
        assert (body["remote_addr"], body["scheme"], body["host_url"]) == (
            "10.0.0.5",
            "https",
            "https://shop.example:8443/",
        )


def test_clear_untrusted_protects_apps_reading_raw_headers(bottle_app: WSGIApplication) -> None:
    """Bottle reads X-Forwarded-For/-Proto/-Host itself: without clear_untrusted
    it believes the spoofable leftmost entry, with it what ProxyFix believed."""
    headers = {
        "X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.0.0.5",
        "X-Forwarded-Proto": "https, http",
        "X-Forwarded-Host": "evil.example",
    }
    extra = {"REMOTE_ADDR": "10.0.0.1"}
    fooled = testapp(bottle_app, lambda inner: ProxyFix(inner, trusted=["10.0.0.0/8"]))
    body = fooled.get("/env", headers=headers, extra_environ=extra).json
    assert body["remote_addr"] == "6.6.6.6"
    safe = testapp(
        bottle_app, lambda inner: ProxyFix(inner, trusted=["10.0.0.0/8"], clear_untrusted=True)
    )
    body = safe.get("/env", headers=headers, extra_environ=extra).json
    assert (body["remote_addr"], body["scheme"], body["host_url"]) == (
        "203.0.113.7",
        "https",
        "https://localhost:80/",
    )


def test_framework_ignores_forged_headers_from_untrusted_peer(
    framework_app: WSGIApplication,
) -> None:
    app = testapp(
        framework_app,
        lambda inner: ProxyFix(inner, x_host=1, trusted=["10.0.0.0/8"], clear_untrusted=True),
    )
    body = app.get(
        "/env",
        headers={"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil.example"},
        extra_environ={"REMOTE_ADDR": "203.0.113.9"},
    ).json
    assert body["remote_addr"] == "203.0.113.9"
    assert "evil" not in body["host_url"]


def test_end_to_end_through_a_real_server(serve: Any) -> None:
    """Needs ``wsgikit serve`` to start waitress with
    ``clear_untrusted_proxy_headers=False``: waitress 3 deletes X-Forwarded-For/
    -Proto/-Host/-Port and Forwarded itself by default, before any middleware."""
    server: Server = serve("e2e_proxy_apps:trusted_app")
    response = server.get(
        "/",
        headers={
            "X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.0.0.5",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "shop.example",
            "X-Forwarded-Prefix": "//evil.example",
        },
    )
    body = json.loads(response.read())
    response.close()
    assert body["REMOTE_ADDR"] == "203.0.113.7"
    assert (body["wsgi.url_scheme"], body["HTTP_HOST"]) == ("https", "shop.example")
    assert body["SCRIPT_NAME"] == ""
    assert body["orig"]["REMOTE_ADDR"] == "127.0.0.1"

    untrusted = serve("e2e_proxy_apps:untrusted_app")
    response = untrusted.get("/", headers={"X-Forwarded-For": "6.6.6.6"})
    body = json.loads(response.read())
    response.close()
    assert body["REMOTE_ADDR"] == "127.0.0.1"
    assert body["x_forwarded_for"] is None


def write_ini(tmp_path: Path, filters: str, pipeline: str) -> str:
    path = tmp_path / "proxy.ini"
    path.write_text(
        f"""
[app:echo]
use = call:e2e_proxy_apps:make_whoami

{filters}

[pipeline:main]
pipeline = {pipeline} echo
"""
    )
    return "config:" + str(path)


def test_paste_factories_build_the_stack(tmp_path: Path) -> None:
    from paste.deploy import loadapp

    uri = write_ini(
        tmp_path,
        """
[filter:fake]
paste.filter_app_factory = wsgikit.paste:fake_forwarded_for
real_ip = 2001:db8::7
proxies = 10.0.0.5, 10.0.0.4
proto = https
host = shop.example
port = 8443
forwarded = true

[filter:proxy]
paste.filter_app_factory = wsgikit.paste:proxy_fix
x_host = 1
x_port = 1
forwarded = 1
trusted =
    10.0.0.0/8
    127.0.0.1
clear_untrusted = yes
""",
        "fake proxy",
    )
    app = loadapp(uri)
    body = testapp(app).get("/", extra_environ={"REMOTE_ADDR": "127.0.0.1"}).json
    assert body["REMOTE_ADDR"] == "2001:db8::7"
    assert (body["wsgi.url_scheme"], body["HTTP_HOST"]) == ("https", "shop.example:8443")


@pytest.mark.parametrize(
    ("factory", "option", "message"),
    [
        pytest.param("proxy_fix", "x_for = one", "x_for"),
        pytest.param("proxy_fix", "trusted = 10.0.0.0/33", "trusted"),
        pytest.param("proxy_fix", "bogus = 1", "bogus"),
        pytest.param("fake_forwarded_for", "real_ip = nope", "real_ip"),
        pytest.param("fake_forwarded_for", "override = maybe", "override"),
    ],
)
def test_paste_factories_reject_bad_options(
    tmp_path: Path, factory: str, option: str, message: str
) -> None:
    from paste.deploy import loadapp

    section = f"[filter:f]\npaste.filter_app_factory = wsgikit.paste:{factory}\n{option}\n"
    uri = write_ini(tmp_path, section, "f")
    with pytest.raises(ValueError, match=message):
        loadapp(uri)


# ("trusted = none" is refused like none in every option that takes no None:
# tests/test_options.py walks them all.)
@pytest.mark.parametrize("value", ["", "  ,  "])
def test_paste_empty_trusted_is_refused_as_in_python(tmp_path: Path, value: str) -> None:
    """An empty ``trusted =`` used to mean ``None``: hop counting, believing
    any client's headers. It fails at load time, with Python's message."""
    from paste.deploy import loadapp

    with pytest.raises(ValueError) as python:
        ProxyFix(Capture(), trusted="")
    section = f"[filter:f]\npaste.filter_app_factory = wsgikit.paste:proxy_fix\ntrusted = {value}\n"
    with pytest.raises(ValueError) as ini:
        loadapp(write_ini(tmp_path, section, "f"))
    assert str(python.value) in str(ini.value)
    assert "leave it out" in str(python.value)


@pytest.mark.parametrize(
    ("chain", "kept"),
    [
        pytest.param("6.6.6.6, 203.0.113.7, 10.0.0.5", "203.0.113.7, 10.0.0.5", id="trimmed"),
        pytest.param("6.6.6.6, garbage, 10.0.0.5", "10.0.0.5", id="invalid client dropped"),
        pytest.param("garbage, 10.0.0.5", "10.0.0.5", id="only the proxy's entry"),
    ],
)
def test_clear_untrusted_trims_x_forwarded_for_in_hop_count_mode(chain: str, kept: str) -> None:
    environ = through(ProxyFix, x_for=2, x_proto=1, clear_untrusted=True)(
        HTTP_X_FORWARDED_FOR=chain, HTTP_X_FORWARDED_PROTO="http, https"
    )
    assert environ["HTTP_X_FORWARDED_FOR"] == kept
    assert environ["HTTP_X_FORWARDED_PROTO"] == "https"
    assert environ[ORIG_KEY]["HTTP_X_FORWARDED_FOR"] == chain


# --- limits, caches, mapped networks, INI hops ------------------------------------------


@pytest.fixture
def longest_key(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Spies on the cached functions: the longest argument each was called with."""
    from wsgikit import proxy

    longest: dict[str, int] = {}

    def spy(name: str, function: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            longest[name] = max(longest.get(name, 0), len(args[-1]))
            return function(*args)

        return wrapper

    for name in ("_client_address", "_valid_host", "_trust_verdict"):
        monkeypatch.setattr(proxy, name, spy(name, getattr(proxy, name)))
    return longest


def test_caches_are_never_keyed_by_long_values(longest_key: dict[str, int]) -> None:
    """Forwarded values are attacker-chosen cache keys: one over the size
    limits must never reach a cached function (4096 unique 60 KB values once
    pinned 240 MB)."""
    from wsgikit import proxy

    long = "1" * 5000
    headers = {
        "HTTP_X_FORWARDED_FOR": f"10.0.0.9, {long}, [{long}]:80, 10.0.0.5",
        "HTTP_X_FORWARDED_HOST": "a" * 3000 + ":80, shop.example",
        "HTTP_FORWARDED": f'for="{long[:900]}";by={long[:60]}x;host={"a" * 900}',
    }
    configs = [
        ProxyFix(Capture(), x_host=1, forwarded=1),
        ProxyFix(Capture(), x_for=2, x_host=2),
        ProxyFix(Capture(), x_host=1, trusted=["10.0.0.0/8"]),
        ProxyFix(Capture(), x_host=1, forwarded=1, trusted=["10.0.0.0/8"]),
    ]
    for fix in configs:
        for remote in ("10.0.0.1", "9" * 5000):
            environ = make_environ(REMOTE_ADDR=remote, **headers)
            fix(environ, lambda status, headers, exc_info=None: print)
            assert environ["REMOTE_ADDR"] == remote
    assert set(longest_key) == {"_client_address", "_valid_host", "_trust_verdict"}
    assert longest_key["_client_address"] <= proxy._MAX_NODE
    assert longest_key["_trust_verdict"] <= proxy._MAX_NODE
    assert longest_key["_valid_host"] <= proxy._MAX_HOST


def test_caches_stay_empty_under_overlong_values() -> None:
    from wsgikit import proxy

    proxy._client_address.cache_clear()
    proxy._valid_host.cache_clear()
    fix = ProxyFix(Capture(), x_host=1)
    for index in range(200):
        value = f"{index}" + "x" * 6000
        fix(
            make_environ(HTTP_X_FORWARDED_FOR=value, HTTP_X_FORWARDED_HOST=value),
            lambda status, headers, exc_info=None: print,
        )
    assert proxy._client_address.cache_info().currsize == 0
    assert proxy._valid_host.cache_info().currsize == 0


@pytest.fixture
def parse_counts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the header-splitting and element-parsing helpers run."""
    from wsgikit import proxy

    counts = {"items": 0, "elements": 0}

    def counted(name: str, function: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            counts[name] += 1
            return function(*args)

        return wrapper

    monkeypatch.setattr(proxy, "_items", counted("items", proxy._items))
    monkeypatch.setattr(proxy, "parse_dict_header", counted("elements", proxy.parse_dict_header))
    return counts


BIG = 200_000


@pytest.mark.parametrize(
    ("header", "value", "options"),
    [
        pytest.param(
            "HTTP_FORWARDED", "for=1.2.3.4;proto=https, " * (BIG // 25), {}, id="Forwarded"
        ),
        pytest.param(
            "HTTP_X_FORWARDED_FOR", '"' + "1.2.3.4, " * (BIG // 9), {}, id="X-Forwarded-For"
        ),
        pytest.param("HTTP_X_FORWARDED_PROTO", "https," * (BIG // 6), {}, id="X-Forwarded-Proto"),
        pytest.param(
            "HTTP_X_FORWARDED_HOST", "a.example," * (BIG // 10), {}, id="X-Forwarded-Host"
        ),
        pytest.param("HTTP_X_FORWARDED_PORT", "443, " * (BIG // 5), {}, id="X-Forwarded-Port"),
        pytest.param("HTTP_X_FORWARDED_PREFIX", "/a," * (BIG // 3), {}, id="X-Forwarded-Prefix"),
        pytest.param(
            "HTTP_FORWARDED",
            "for=1.2.3.4, " * (BIG // 13),
            {"trusted": ["127.0.0.1"]},
            id="Forwarded, trusted",
        ),
        pytest.param(
            "HTTP_X_FORWARDED_FOR",
            "127.0.0.1, " * (BIG // 11),
            {"trusted": ["127.0.0.1"]},
            id="X-Forwarded-For, trusted",
        ),
    ],
)
def test_overlong_header_is_refused_unparsed(
    caplog: pytest.LogCaptureFixture,
    parse_counts: dict[str, int],
    header: str,
    value: str,
    options: dict[str, Any],
) -> None:
    """A 200 KB forwarded header is refused as a whole, logged, not parsed."""
    assert len(value) > 8192 * 20
    fix = ProxyFix(Capture(), x_host=2, x_port=2, x_prefix=2, forwarded=2, **options)
    with caplog.at_level(logging.DEBUG, logger="wsgikit.proxy"):
        environ = make_environ(**{header: value})
        fix(environ, lambda status, headers, exc_info=None: print)
    assert seen(environ) == seen(ORIGINAL)
    assert parse_counts == {"items": 0, "elements": 0}
    assert f"of {len(value)} characters" in caplog.text


def test_overlong_forwarded_still_overrides_x_forwarded() -> None:
    """Refusing Forwarded must not hand the choice to X-Forwarded-For, which
    the proxy writing Forwarded may not set (then the client does)."""
    environ = through(ProxyFix, forwarded=1, clear_untrusted=True)(
        HTTP_FORWARDED="for=1.2.3.4, " * 1000, HTTP_X_FORWARDED_FOR="6.6.6.6"
    )
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert not {"HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR"} & set(environ)


def test_header_at_the_limit_is_read() -> None:
    from wsgikit import proxy

    chain = "x" * (proxy._MAX_HEADER - len(", 203.0.113.7")) + ", 203.0.113.7"
    assert len(chain) == proxy._MAX_HEADER
    assert through(ProxyFix)(HTTP_X_FORWARDED_FOR=chain)["REMOTE_ADDR"] == "203.0.113.7"
    assert through(ProxyFix)(HTTP_X_FORWARDED_FOR=chain + "1")["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_hop_count_parses_only_the_element_it_needs(
    parse_counts: dict[str, int], quoted: bool
) -> None:
    client = '"[2001:db8::7]:4711"' if quoted else "203.0.113.7"
    header = "for=6.6.6.6;proto=http, " * 300 + f"for={client};proto=https, for=10.0.0.5"
    assert len(header) < 8192
    environ = through(ProxyFix, forwarded=2)(HTTP_FORWARDED=header)
    assert ipaddress.ip_address(environ["REMOTE_ADDR"]) in (
        ipaddress.ip_address("203.0.113.7"),
        ipaddress.ip_address("2001:db8::7"),
    )
    assert environ["wsgi.url_scheme"] == "https"
    assert parse_counts["elements"] == 1


def test_trusted_mode_parses_elements_only_up_to_the_client(
    parse_counts: dict[str, int],
) -> None:
    header = "for=6.6.6.6, " * 300 + "for=203.0.113.7;proto=https, for=10.0.0.5"
    environ = through(ProxyFix, forwarded=1, trusted=["10.0.0.0/8"])(
        REMOTE_ADDR="10.0.0.1", HTTP_FORWARDED=header
    )
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]) == ("203.0.113.7", "https")
    assert parse_counts["elements"] == 2


def test_overlong_forwarded_element_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    element = "for=203.0.113.7;proto=https;ext=" + "x" * 1000
    with caplog.at_level(logging.DEBUG, logger="wsgikit.proxy"):
        environ = through(ProxyFix, forwarded=1)(HTTP_FORWARDED=element)
    assert seen(environ) == seen(ORIGINAL)
    assert "Forwarded element" in caplog.text
    ok = through(ProxyFix, forwarded=1)(HTTP_FORWARDED=element[:900])
    assert (ok["REMOTE_ADDR"], ok["wsgi.url_scheme"]) == ("203.0.113.7", "https")


LIST_TEXT = st.text(alphabet=' \t,"\\ab;=\r\n\xa01.', max_size=40)


@settings(max_examples=400, deadline=None)
@given(value=LIST_TEXT)
def test_list_splitting_matches_werkzeug(value: str) -> None:
    """The splitter that parses only what is needed gives werkzeug's items."""
    from werkzeug.http import parse_list_header

    from wsgikit import proxy

    assert [proxy._unquote(item) for item in proxy._items(value)] == parse_list_header(value)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(LIST_TEXT, min_size=1, max_size=5), hops=st.integers(1, 6))
def test_hop_counts_pick_what_werkzeug_picks(values: list[str], hops: int) -> None:
    """Hop counts pick werkzeug's item (its shortcuts included); trusted mode
    (``or_leftmost``) the same item, or the leftmost when there are fewer."""
    from werkzeug.http import parse_list_header

    from wsgikit import proxy

    header = ",".join(values)
    items = parse_list_header(header)
    expected = items[-hops] if len(items) >= hops else None
    environ = {"HTTP_X_FORWARDED_FOR": header}
    assert proxy._from_right(environ, "HTTP_X_FORWARDED_FOR", hops, 0) == expected
    leftmost = expected if expected is not None or not items else items[0]
    assert proxy._from_right(environ, "HTTP_X_FORWARDED_FOR", hops, 0, True) == leftmost


def test_ipv4_mapped_trusted_networks_are_stored_as_ipv4() -> None:
    fix = ProxyFix(Capture(), trusted="::ffff:10.0.0.0/104 ::ffff:0:0/96 fd00::/8")
    assert fix.trusted == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("0.0.0.0/0"),
        ipaddress.ip_network("fd00::/8"),
    )


def test_bool_hop_counts_are_one_and_zero() -> None:
    fix = ProxyFix(Capture(), x_for=False, x_proto=True, forwarded=True)
    assert (fix.x_for, fix.x_proto, fix.forwarded) == (0, 1, 1)
    assert all(type(hops) is int for hops in (fix.x_for, fix.x_proto, fix.forwarded))
    environ = through(ProxyFix, forwarded=True)(HTTP_FORWARDED="for=203.0.113.7")
    assert environ["REMOTE_ADDR"] == "203.0.113.7"


@pytest.mark.parametrize(
    ("text", "hops"),
    [
        pytest.param("true", 1, id="true"),
        pytest.param("Yes", 1, id="yes"),
        pytest.param("on", 1, id="on"),
        pytest.param("false", 0, id="false"),
        pytest.param("no", 0, id="no"),
        pytest.param("OFF", 0, id="off"),
        pytest.param("2", 2, id="two"),
        pytest.param("0", 0, id="zero"),
    ],
)
def test_paste_proxy_fix_hops_accept_booleans(tmp_path: Path, text: str, hops: int) -> None:
    from paste.deploy import loadapp

    section = (
        "[filter:f]\nuse = egg:wsgikit#proxy_fix\n"
        f"forwarded = {text}\nx_host = {text}\nx_for = {text}\n"
    )
    app = loadapp(write_ini(tmp_path, section, "f"))
    assert isinstance(app, ProxyFix)
    assert (app.forwarded, app.x_host, app.x_for) == (hops, hops, hops)


@pytest.mark.parametrize("text", ["maybe", "1.5", "-1", "y"])
def test_paste_proxy_fix_hops_reject_other_words(tmp_path: Path, text: str) -> None:
    from paste.deploy import loadapp

    section = f"[filter:f]\nuse = egg:wsgikit#proxy_fix\nforwarded = {text}\n"
    with pytest.raises(ValueError, match="forwarded"):
        loadapp(write_ini(tmp_path, section, "f"))


# --- a server that strips forwarded headers is made visible (#10) -------------------


def quiet_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "wsgikit.proxy" and record.levelno == logging.WARNING
    ]


def test_no_forwarded_header_in_the_first_requests_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsgikit.proxy")
    app = ProxyFix(Capture(), x_for=1, x_proto=1)
    for _ in range(QUIET_REQUESTS - 1):
        run_wsgi(app, {"SERVER_SOFTWARE": "waitress"})
    assert quiet_warnings(caplog) == []
    for _ in range(QUIET_REQUESTS + 1):
        run_wsgi(app, {"SERVER_SOFTWARE": "waitress"})
    [record] = quiet_warnings(caplog)
    message = record.getMessage()
    assert f"first {QUIET_REQUESTS} requests" in message
    assert "X-Forwarded-For, X-Forwarded-Proto" in message
    # Under waitress: the cause and the fix.
    assert "trusted_proxy" in message and "clear_untrusted_proxy_headers=False" in message


@pytest.mark.parametrize(
    ("software", "hint"),
    [
        pytest.param("gunicorn/27.0.1", "header names with underscores", id="gunicorn"),
        pytest.param("WSGIServer/0.2", "waitress deletes", id="other: names the usual suspect"),
    ],
)
def test_quiet_warning_names_the_server(
    software: str, hint: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = ProxyFix(Capture(), forwarded=1, trusted=["10.0.0.0/8"])
    for _ in range(QUIET_REQUESTS):
        run_wsgi(app, {"SERVER_SOFTWARE": software})
    [record] = quiet_warnings(caplog)
    assert hint in record.getMessage() and "Forwarded" in record.getMessage()


def test_one_forwarded_header_in_the_first_requests_means_no_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = ProxyFix(Capture())
    for _ in range(QUIET_REQUESTS // 2):
        run_wsgi(app)
    run_wsgi(app, {"HTTP_X_FORWARDED_PROTO": "https"})
    for _ in range(QUIET_REQUESTS * 2):
        run_wsgi(app)
    assert quiet_warnings(caplog) == []


def test_proxy_fix_reading_nothing_never_warns(caplog: pytest.LogCaptureFixture) -> None:
    app = ProxyFix(Capture(), x_for=0, x_proto=0)
    for _ in range(QUIET_REQUESTS * 2):
        run_wsgi(app)
    assert quiet_warnings(caplog) == []


def test_quiet_warning_is_logged_once_across_threads(caplog: pytest.LogCaptureFixture) -> None:
    import threading

    app = ProxyFix(Capture())
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        for _ in range(QUIET_REQUESTS // 2):
            app({"REMOTE_ADDR": "127.0.0.1"}, lambda status, headers, exc_info=None: None)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(quiet_warnings(caplog)) == 1


_OPTIONS = ("x_for", "x_proto", "x_host", "x_port", "x_prefix", "forwarded")
_READS = dict(zip(_OPTIONS, HEADERS[1:] + HEADERS[:1], strict=True))


@settings(max_examples=300)
@given(
    hops=st.fixed_dictionaries({name: st.integers(0, 2) for name in _OPTIONS}),
    clear_untrusted=st.booleans(),
    present=st.sets(st.sampled_from(HEADERS)),
)
def test_pass_through_exactly_when_no_header_read_is_present(
    hops: dict[str, int], clear_untrusted: bool, present: set[str]
) -> None:
    """The pass-through test (written out for speed, see ProxyFix.__init__)
    passes a request straight on exactly when none of the headers the
    configuration reads is present: ``wsgikit.proxy.orig`` tells which."""
    inner = Capture()
    app = ProxyFix(inner, clear_untrusted=clear_untrusted, **hops)
    run_wsgi(app, {key: "garbage" for key in present})
    reads = set(HEADERS) if clear_untrusted else {_READS[name] for name in hops if hops[name]}
    assert (ORIG_KEY in inner.environ) == bool(reads & present)
