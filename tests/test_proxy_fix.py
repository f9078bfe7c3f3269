"""wsgikit.proxy.ProxyFix: werkzeug compatibility, strict validation, originals,
trusted networks, RFC 7239, clear_untrusted, options, the response left alone
(with FakeForwardedFor as a layer too), real frameworks and servers, the quiet
warning. The header grammar is tested in test_forwarded.py."""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
from helpers import (
    FORWARDED_HEADERS,
    PROXY_FIX_KEYS,
    Capture,
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
    seen,
    testapp,
    text_app,
    through,
    tracked_app,
    write_app,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.middleware.proxy_fix import ProxyFix as WerkzeugProxyFix

from wsgikit.proxy import FORWARDED_KEY, ORIG_KEY, QUIET_REQUESTS, FakeForwardedFor, ProxyFix

ORIGINAL = make_environ()


# --- werkzeug compatibility ---------------------------------------------------

BEHIND = {"REMOTE_ADDR": "192.168.0.2", "HTTP_HOST": "spam", "SERVER_NAME": "spam"}


SAME: dict[str, tuple[str, str]] = {}


def both(
    case: str,
    options: dict[str, int],
    differences: dict[str, tuple[str, str]] = SAME,
    **headers: str | None,
) -> Any:
    """A row of WERKZEUG_CASES: the request with ``headers`` (None deletes the
    key) through werkzeug's ProxyFix and ours, both with ``options``.
    ``differences`` maps an environ key to (ours, werkzeug's) where we
    deliberately differ (ProxyFix's docstring lists why); every other key of
    PROXY_FIX_KEYS must be the same."""
    return pytest.param(options, headers, differences, id=case)


WERKZEUG_CASES = [
    both("no headers", {}),
    both("defaults: for and proto", {}, HTTP_X_FORWARDED_FOR="192.168.0.1",
         HTTP_X_FORWARDED_PROTO="https"),
    both("host without port", {"x_host": 1}, HTTP_X_FORWARDED_HOST="example.com"),
    both("host with port", {"x_host": 1}, HTTP_X_FORWARDED_HOST="example.com:8443"),
    both("port alone", {"x_port": 1}, HTTP_X_FORWARDED_PORT="8080"),
    both("port wins over host's port", {"x_host": 1, "x_port": 1},
         HTTP_X_FORWARDED_HOST="example.com:81", HTTP_X_FORWARDED_PORT="8080"),
    both("port replaces Host's port", {"x_port": 1}, HTTP_HOST="spam:9000",
         HTTP_X_FORWARDED_PORT="8080"),
    both("port replaces IPv6 Host's port", {"x_port": 1}, HTTP_HOST="[2001:db8::a]:9000",
         HTTP_X_FORWARDED_PORT="8080"),
    both("port added to bracketed IPv6 Host", {"x_port": 1}, HTTP_HOST="[::1]",
         HTTP_X_FORWARDED_PORT="8080"),
    both("port without Host header", {"x_port": 1}, HTTP_HOST=None, SERVER_PORT="9000",
         HTTP_X_FORWARDED_PORT="8080"),
    both("prefix", {"x_prefix": 1}, HTTP_X_FORWARDED_PREFIX="/bar"),
    both("two hops", {"x_for": 2}, HTTP_X_FORWARDED_FOR="192.168.0.1, 192.168.0.3"),
    both("fewer values than hops", {"x_for": 2}, HTTP_X_FORWARDED_FOR="192.168.0.3"),
    both("empty first item", {"x_for": 2}, HTTP_X_FORWARDED_FOR=", 192.168.0.3"),
    both("spoofed leftmost ignored", {"x_for": 1}, HTTP_X_FORWARDED_FOR="6.6.6.6, 192.168.0.1"),
    both("switched off", {"x_for": 0, "x_proto": 0}, HTTP_X_FORWARDED_FOR="1.2.3.4",
         HTTP_X_FORWARDED_PROTO="https"),
    both("blanks and empty items", {"x_for": 1}, HTTP_X_FORWARDED_FOR=" 1.2.3.4 ,\t, 5.6.7.8 ,"),
    both("quoted items", {"x_for": 2}, HTTP_X_FORWARDED_FOR='"1.2.3.4", "5.6.7.8"'),
    both("unclosed quote", {"x_for": 1}, HTTP_X_FORWARDED_FOR='1.2.3.4, "5.6.7.8'),
    both("empty header", {"x_for": 1}, HTTP_X_FORWARDED_FOR=""),
    both("IPv6 entries", {"x_for": 1}, HTTP_X_FORWARDED_FOR="2001:db8::1, ::1"),
    both("mixed hop counts", {"x_for": 3, "x_proto": 2, "x_host": 2},
         HTTP_X_FORWARDED_FOR="10.0.0.9, 203.0.113.7, 10.0.0.5, 10.0.0.4",
         HTTP_X_FORWARDED_PROTO="https, http", HTTP_X_FORWARDED_HOST="shop.example, internal:8080"),
    both("prefix hops below for hops", {"x_for": 2, "x_prefix": 1},
         HTTP_X_FORWARDED_FOR="192.168.0.1, 192.168.0.3", HTTP_X_FORWARDED_PREFIX="/a, /b"),
    both("IPv6 host, no port", {"x_host": 1}, HTTP_X_FORWARDED_HOST="[2001:db8::1]"),
    both("IPv6 host and port", {"x_host": 1}, HTTP_X_FORWARDED_HOST="[2001:db8::1]:8443"),
    both("port and prefix without host", {"x_host": 1, "x_prefix": 1, "x_port": 1},
         HTTP_X_FORWARDED_PORT="443", HTTP_X_FORWARDED_PREFIX="/a/b"),
    both("all five", {"x_for": 1, "x_proto": 1, "x_host": 1, "x_port": 1, "x_prefix": 1},
         HTTP_HOST="spam:9000", HTTP_X_FORWARDED_FOR="192.168.0.1", HTTP_X_FORWARDED_PROTO="https",
         HTTP_X_FORWARDED_HOST="eggs", HTTP_X_FORWARDED_PORT="443", HTTP_X_FORWARDED_PREFIX="/ham"),
    # Valid input werkzeug copies raw, or copies in a form that breaks URLs.
    both("differs: ip:port", {}, {"REMOTE_ADDR": ("1.2.3.4", "1.2.3.4:5678")},
         HTTP_X_FORWARDED_FOR="1.2.3.4:5678"),
    both("differs: [v6]:port", {}, {"REMOTE_ADDR": ("2001:db8::1", "[2001:db8::1]:4711")},
         HTTP_X_FORWARDED_FOR="[2001:db8::1]:4711"),
    both("differs: [v6]", {}, {"REMOTE_ADDR": ("2001:db8::1", "[2001:db8::1]")},
         HTTP_X_FORWARDED_FOR="[2001:db8::1]"),
    both("differs: upper case scheme", {}, {"wsgi.url_scheme": ("https", "HTTPS")},
         HTTP_X_FORWARDED_PROTO="HTTPS"),
    both("differs: wss is https", {}, {"wsgi.url_scheme": ("https", "wss")},
         HTTP_X_FORWARDED_PROTO="wss"),
    both("differs: ws is http", {}, {"wsgi.url_scheme": ("http", "ws")},
         HTTP_X_FORWARDED_PROTO="ws"),
    both("differs: prefix trailing slash", {"x_prefix": 1}, {"SCRIPT_NAME": ("/app", "/app/")},
         HTTP_X_FORWARDED_PREFIX="/app/"),
    both("differs: port with leading zeros", {"x_port": 1},
         {"SERVER_PORT": ("443", "00443"), "HTTP_HOST": ("spam:443", "spam:00443")},
         HTTP_X_FORWARDED_PORT="00443"),
    both("differs: host port with leading zeros", {"x_host": 1},
         {"SERVER_PORT": ("80", "00080"), "HTTP_HOST": ("ex.com:80", "ex.com:00080")},
         HTTP_X_FORWARDED_HOST="ex.com:00080"),
    both("differs: IPv6 host port with leading zero", {"x_host": 1},
         {"SERVER_PORT": ("8443", "08443"), "HTTP_HOST": ("[::1]:8443", "[::1]:08443")},
         HTTP_X_FORWARDED_HOST="[::1]:08443"),
]  # fmt: skip


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
    alike = [key for key in PROXY_FIX_KEYS if key not in differences]
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
    changed = {key for key in PROXY_FIX_KEYS if ours.get(key) != werkzeug_orig[key]}
    assert changed <= set(orig or {})
    assert orig in (None, {key: werkzeug_orig[key] for key in orig or {}})


def test_positional_hop_counts_as_in_werkzeug() -> None:
    environ = through(ProxyFix, 2, 1, 1)(
        HTTP_X_FORWARDED_FOR="1.2.3.4, 10.0.0.1", HTTP_X_FORWARDED_HOST="example.com"
    )
    assert (environ["REMOTE_ADDR"], environ["HTTP_HOST"]) == ("1.2.3.4", "example.com")


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
    assert not set(FORWARDED_HEADERS) & set(environ)
    assert environ[ORIG_KEY] == ALL_FORWARDED
    assert seen(environ) == {**seen(ORIGINAL), "REMOTE_ADDR": "203.0.113.9"}


def test_clear_untrusted_removes_headers_switched_off() -> None:
    environ = through(ProxyFix, trusted=TRUSTED, clear_untrusted=True)(
        REMOTE_ADDR="10.0.0.1", **ALL_FORWARDED
    )
    left = {key for key in FORWARDED_HEADERS if key in environ}
    assert left == {"HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO"}
    assert environ["REMOTE_ADDR"] == "6.6.6.6"


def test_clear_untrusted_in_hop_count_mode_removes_overridden_x_headers() -> None:
    environ = through(ProxyFix, forwarded=1, clear_untrusted=True)(**ALL_FORWARDED)
    assert [key for key in FORWARDED_HEADERS if key in environ] == ["HTTP_FORWARDED"]
    assert environ["REMOTE_ADDR"] == "6.6.6.6"


FWD, XFF, XFP = "HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO"
FORGED_CHAIN = (
    "for=6.6.6.6;host=evil.example, for=203.0.113.7;proto=HTTPS;host=shop.example;secret=x"
)


def trims(
    options: dict[str, Any], remote: str, header: str, value: str, kept: str | None, case: str
) -> Any:
    """A row of test_clear_untrusted_trims_chains: one header sent, ``kept`` left of it."""
    return pytest.param(options, remote, {header: value}, {header: kept}, id=case)


XFF_XFP = {"x_for": 2, "x_proto": 1}


@pytest.mark.parametrize(
    ("options", "remote", "sent", "kept"),
    [
        trims({"forwarded": 2}, "10.0.0.1", FWD, FORGED_CHAIN + ", for=10.0.0.5;by=_lb",
              "for=203.0.113.7;proto=https;host=shop.example, for=10.0.0.5;by=_lb",
              "hops: forged element dropped, believed one reduced"),
        trims({"forwarded": 1}, "10.0.0.1", FWD, 'for=203.0.113.7;host="evil/x";by=_a',
              "for=203.0.113.7;by=_a", "hops: invalid parameter dropped"),
        trims({"forwarded": 1}, "10.0.0.1", FWD, 'for="[2001:db8::1]:4711";host="h:8443"',
              'for="[2001:db8::1]:4711";host="h:8443"', "hops: quoted values"),
        trims({"forwarded": 3}, "10.0.0.1", FWD, "for=1.2.3.4, for=10.0.0.5", None,
              "hops: fewer elements than hops"),
        trims({"forwarded": 1}, "10.0.0.1", FWD, "for=garbage;proto=gopher", None,
              "hops: nothing valid in the believed element"),
        trims({"forwarded": 2}, "10.0.0.1", FWD, "for=garbage, for=10.0.0.5", "for=10.0.0.5",
              "hops: only the proxy's element"),
        trims({"forwarded": 1}, "10.0.0.1", FWD, 'for="1.2.3.4', None, "hops: unclosed quote"),
        trims({"forwarded": 1, "trusted": TRUSTED}, "10.0.0.1", FWD,
              FORGED_CHAIN + ", for=10.0.0.5",
              "for=203.0.113.7;proto=https;host=shop.example, for=10.0.0.5",
              "trusted: walked to the client"),
        trims({"forwarded": 1, "trusted": TRUSTED}, "10.0.0.1", FWD,
              "for=10.0.0.9;proto=http, for=10.0.0.5", "for=10.0.0.9;proto=http, for=10.0.0.5",
              "trusted: all trusted, leftmost is the client"),
        trims({"forwarded": 1, "trusted": TRUSTED}, "10.0.0.1", FWD,
              "for=6.6.6.6, for=unknown;proto=https;evil=1, for=10.0.0.5",
              "for=unknown;proto=https, for=10.0.0.5", "trusted: unknown client"),
        trims({"forwarded": 1, "trusted": TRUSTED}, "203.0.113.9", FWD, FORGED_CHAIN, None,
              "trusted: untrusted peer"),
        # X-Forwarded-For and -Proto in hop-count mode: the entries believed and after.
        pytest.param(XFF_XFP, "127.0.0.1",
                     {XFF: "6.6.6.6, 203.0.113.7, 10.0.0.5", XFP: "http, https"},
                     {XFF: "203.0.113.7, 10.0.0.5", XFP: "https"}, id="x-forwarded: trimmed"),
        pytest.param(XFF_XFP, "127.0.0.1",
                     {XFF: "6.6.6.6, garbage, 10.0.0.5", XFP: "http, https"},
                     {XFF: "10.0.0.5", XFP: "https"}, id="x-forwarded: invalid client dropped"),
        pytest.param(XFF_XFP, "127.0.0.1", {XFF: "garbage, 10.0.0.5", XFP: "http, https"},
                     {XFF: "10.0.0.5", XFP: "https"}, id="x-forwarded: only the proxy's entry"),
    ],
)  # fmt: skip
def test_clear_untrusted_trims_chains(
    options: dict[str, Any], remote: str, sent: dict[str, str], kept: dict[str, str | None]
) -> None:
    """A chain says only what was believed: the believed element (with its
    valid parameters) or entry, and the proxies' after it; nothing at all when
    nothing was believed."""
    environ = through(ProxyFix, clear_untrusted=True, **options)(REMOTE_ADDR=remote, **sent)
    assert {key: environ.get(key) for key in kept} == kept
    assert {key: environ[ORIG_KEY][key] for key in sent} == sent
    left = {key: value for key, value in kept.items() if value is not None}
    if left:
        # What is left reads back as the same believed client.
        again = through(ProxyFix, **options)(REMOTE_ADDR=remote, **left)
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
    assert {key: environ[key] for key in FORWARDED_HEADERS} == ALL_FORWARDED


# --- options ------------------------------------------------------------------


# The refusals of bad options (and their wording) are one table for ProxyFix and
# FakeForwardedFor, in test_fake_forwarded.py.


def test_trusted_takes_ipaddress_objects_beside_strings() -> None:
    fix = ProxyFix(Capture(), trusted=[ipaddress.ip_address("10.0.0.1"), "fd00::/8"])
    assert fix.trusted == (ipaddress.ip_network("10.0.0.1/32"), ipaddress.ip_network("fd00::/8"))


def test_proxy_fix_public_attributes() -> None:
    fix = ProxyFix(Capture(), 2, 0, x_host=1, trusted="10.0.0.0/8", forwarded=1)
    assert (fix.x_for, fix.x_proto, fix.x_host, fix.x_port, fix.x_prefix) == (2, 0, 1, 0, 0)
    assert fix.trusted == (ipaddress.ip_network("10.0.0.0/8"),)
    assert (fix.forwarded, fix.clear_untrusted) == (1, False)


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


# --- lint, real frameworks, server (the INI options: test_paste.py) -------------


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
    from helpers import echo_environ_app

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


_READS = dict(zip(_OPTIONS, FORWARDED_HEADERS[1:] + FORWARDED_HEADERS[:1], strict=True))


@settings(max_examples=300)
@given(
    hops=st.fixed_dictionaries({name: st.integers(0, 2) for name in _OPTIONS}),
    clear_untrusted=st.booleans(),
    present=st.sets(st.sampled_from(FORWARDED_HEADERS)),
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
    reads = (
        set(FORWARDED_HEADERS) if clear_untrusted else {_READS[name] for name in hops if hops[name]}
    )
    assert (ORIG_KEY in inner.environ) == bool(reads & present)


# --- the hop-count fast path (#11) ------------------------------------------------

# Values of each kind: valid, invalid, quoted, several per header, blanks.
HOP_FOR = st.sampled_from(
    ["192.168.0.1", "203.0.113.7:8080", "[2001:db8::1]", "2001:db8::1", '"[2001:db8::2]:443"',
     "unknown", "1.2.3.4%eth0", "a" * 70, "", " ", "10.0.0.1, 10.0.0.2", ",", '"unclosed']
)  # fmt: skip
HOP_PROTO = st.sampled_from(["https", "HTTP", "wss", "ws", "ftp", "", "https, http", " https "])
HOP_HOST = st.sampled_from(
    ["example.com", "example.com:8443", "[::1]:80", "evil/x", "a:99999", "h" * 260, "",
     "a.example, b.example", '"q.example"']
)  # fmt: skip


def _hop_list(values: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.none() | st.lists(values, min_size=1, max_size=3).map(", ".join)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


@settings(max_examples=300, deadline=None)
@given(
    hops=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    x_for=_hop_list(HOP_FOR),
    x_proto=_hop_list(HOP_PROTO),
    x_host=_hop_list(HOP_HOST),
)
def test_hop_count_fast_path_equals_general_path(
    hops: tuple[int, int, int], x_for: str | None, x_proto: str | None, x_host: str | None
) -> None:
    """werkzeug's configuration takes a path of its own (_hops_only): the app
    gets the same environ and the same log lines as through the general path."""
    headers = {
        key: value
        for key, value in (
            ("HTTP_X_FORWARDED_FOR", x_for),
            ("HTTP_X_FORWARDED_PROTO", x_proto),
            ("HTTP_X_FORWARDED_HOST", x_host),
        )
        if value is not None
    }
    logger = logging.getLogger("wsgikit.proxy")
    base = make_environ(**BEHIND, **headers)  # one set of streams for both runs
    results = []
    for fast in (True, False):
        fix = ProxyFix(Capture(), *hops)
        assert fix._hops_only
        fix._hops_only = fast
        records = _Records()
        logger.addHandler(records)
        level = logger.level
        logger.setLevel(logging.DEBUG)
        try:
            run_wsgi(fix, dict(base))
        finally:
            logger.removeHandler(records)
            logger.setLevel(level)
        seen_environ = fix.app.environ
        results.append((seen_environ, records.lines))
    (fast_environ, fast_lines), (general_environ, general_lines) = results
    assert fast_environ == general_environ
    assert fast_lines == general_lines


def test_hop_count_fast_path_only_for_werkzeug_options() -> None:
    """Any option beyond x_for/x_proto/x_host in hop-count mode takes the general path."""
    assert ProxyFix(text_app())._hops_only
    assert ProxyFix(text_app(), x_host=2, x_for=0)._hops_only
    for options in (
        {"x_port": 1},
        {"x_prefix": 1},
        {"forwarded": 1},
        {"clear_untrusted": True},
        {"trusted": ["10.0.0.0/8"]},
    ):
        assert not ProxyFix(text_app(), **options)._hops_only, options


@settings(max_examples=200, deadline=None)
@given(
    hops=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    x_for=st.lists(st.ip_addresses().map(str), min_size=1, max_size=3).map(", ".join),
    x_proto=st.lists(st.sampled_from(["http", "https"]), min_size=1, max_size=3).map(", ".join),
    x_host=st.lists(
        st.sampled_from(["example.com", "example.com:8443", "a.example:80"]), min_size=1, max_size=3
    ).map(", ".join),
)
def test_hop_count_fast_path_equals_werkzeug_on_valid_input(
    hops: tuple[int, int, int], x_for: str, x_proto: str, x_host: str
) -> None:
    """On valid input the fast path hands the app what werkzeug's ProxyFix does."""
    options = dict(zip(("x_for", "x_proto", "x_host"), hops, strict=True))
    headers: dict[str, str | None] = {
        "HTTP_X_FORWARDED_FOR": x_for,
        "HTTP_X_FORWARDED_PROTO": x_proto,
        "HTTP_X_FORWARDED_HOST": x_host,
    }
    theirs, ours = run_both(options, headers)
    assert seen(ours) == seen(theirs)


# --- the pass-through test does not depend on the instance's history (#11) ----------

_ONE_OF_EACH = {
    "HTTP_X_FORWARDED_FOR": "203.0.113.7",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "shop.example",
    "HTTP_X_FORWARDED_PORT": "8443",
    "HTTP_X_FORWARDED_PREFIX": "/app",
    "HTTP_FORWARDED": "for=198.51.100.1;proto=https",
}


def _handed_on(layer: ProxyFix, capture: Capture, headers: Iterable[str]) -> dict[str, Any]:
    run_wsgi(layer, {key: _ONE_OF_EACH[key] for key in headers})
    environ = capture.environ
    left = {key: environ.get(key) for key in FORWARDED_HEADERS}
    return {**seen(environ), **left, ORIG_KEY: environ.get(ORIG_KEY)}


@settings(max_examples=60, deadline=None)
@given(
    hops=st.tuples(*[st.integers(0, 1)] * 6),
    clear=st.booleans(),
    quiet_first=st.sampled_from([0, QUIET_REQUESTS - 1, QUIET_REQUESTS + 1]),
    requests=st.lists(st.sets(st.sampled_from(sorted(_ONE_OF_EACH))), min_size=1, max_size=6),
)
def test_each_request_is_handled_as_by_a_fresh_instance(
    hops: tuple[int, ...], clear: bool, quiet_first: int, requests: list[set[str]]
) -> None:
    """Whether a request is passed straight on or read depends on its headers
    only: not on how many quiet requests came before (the QUIET_REQUESTS
    count and its warning), nor on earlier forwarded requests, whichever of
    the 1 to 6 headers the configuration reads."""
    names = ("x_for", "x_proto", "x_host", "x_port", "x_prefix", "forwarded")
    options: dict[str, Any] = dict(zip(names, hops, strict=True))
    capture = Capture()
    used = ProxyFix(capture, **options, clear_untrusted=clear)
    logging.getLogger("wsgikit.proxy").disabled = True  # the quiet warning, on purpose
    try:
        for _ in range(quiet_first):
            assert _handed_on(used, capture, ())[ORIG_KEY] is None
        for headers in requests:
            fresh_capture = Capture()
            fresh = ProxyFix(fresh_capture, **options, clear_untrusted=clear)
            expected = _handed_on(fresh, fresh_capture, headers)
            assert _handed_on(used, capture, headers) == expected, headers
    finally:
        logging.getLogger("wsgikit.proxy").disabled = False
