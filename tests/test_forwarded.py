"""wsgikit._forwarded, the forwarded-header grammar, mostly through ProxyFix:
which values are refused (and how that is logged), hostile input (hypothesis),
list splitting against werkzeug, size limits and the bounded caches."""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any
from wsgiref.types import WSGIEnvironment

import pytest
from helpers import (
    FORWARDED_HEADERS,
    Capture,
    make_environ,
    rows,
    seen,
    through,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wsgikit import _forwarded
from wsgikit.proxy import FORWARDED_KEY, ORIG_KEY, ProxyFix

ORIGINAL = make_environ()


# --- strict validation: what is never written ------------------------------------


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


#: (header, value) rows: an invalid value for each header.
INVALID_VALUES = [
    *rows(
        "HTTP_X_FORWARDED_FOR",
        "for",
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
    *rows(
        "HTTP_X_FORWARDED_PROTO",
        "proto",
        ("ftp", "other scheme"),
        ("https\r\n", "CRLF"),
        ("javascript", "javascript"),
        ("http s", "space"),
    ),
    *rows(
        "HTTP_X_FORWARDED_HOST",
        "host",
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
    *rows(
        "HTTP_X_FORWARDED_PORT",
        "port",
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
    *rows(
        "HTTP_X_FORWARDED_PREFIX",
        "prefix",
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
    *rows(
        "HTTP_FORWARDED",
        "forwarded",
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


#: (options, what the client sent, what the app sees): a valid value is written, and the
#: original of every key written is kept.
WRITTEN = [
    *(
        pytest.param(
            {"x_port": 1},
            {"HTTP_HOST": host, "HTTP_X_FORWARDED_PORT": "00443"},
            {"HTTP_HOST": written, "SERVER_PORT": "443"},
            id=f"port into the client's Host: {case}",
        )
        for host, written, case in [
            ("shop.example", "shop.example:443", "name"),
            ("shop.example:8080", "shop.example:443", "name:port"),
            ("[::1]", "[::1]:443", "IPv6 literal"),
            ("[2001:db8::1]:8080", "[2001:db8::1]:443", "IPv6 literal:port"),
            ("127.0.0.1:80", "127.0.0.1:443", "IPv4:port"),
        ]
    ),
    *(
        pytest.param(
            {"x_prefix": 1},
            {"HTTP_X_FORWARDED_PREFIX": value},
            {"SCRIPT_NAME": script_name},
            id=f"prefix: {case}",
        )
        for value, script_name, case in [
            ("/app", "/app", "one segment"),
            ("/app/", "/app", "trailing slash dropped"),
            ("/a/b/", "/a/b", "two segments, trailing slash"),
            ("/a/b-c_d.e~f", "/a/b-c_d.e~f", "unreserved"),
            ("/v1/api:x@y", "/v1/api:x@y", "colon and at"),
            ("/...", "/...", "three dots"),
            ("/a/.well-known", "/a/.well-known", "dot file"),
        ]
    ),
    pytest.param(
        {"x_prefix": 1},
        {"SCRIPT_NAME": "/app", "HTTP_X_FORWARDED_PREFIX": "/"},
        {"SCRIPT_NAME": ""},
        id="prefix: root is an empty SCRIPT_NAME",
    ),
]


@pytest.mark.parametrize(("options", "sent", "written"), WRITTEN)
def test_valid_value_is_written_and_the_original_kept(
    options: dict[str, int], sent: dict[str, str], written: dict[str, str]
) -> None:
    environ = through(ProxyFix, **options)(**sent)
    assert {key: environ[key] for key in written} == written
    before = make_environ(**sent)
    assert environ[ORIG_KEY] == {key: before[key] for key in written}


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
    values=st.fixed_dictionaries({}, optional={key: HEADER_VALUE for key in FORWARDED_HEADERS}),
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


# --- limits and caches ---------------------------------------------------------


def test_caches_are_never_keyed_by_long_values(caplog: pytest.LogCaptureFixture) -> None:
    """Forwarded values are attacker-chosen cache keys: one over the size
    limits must never reach a cache (4096 unique 60 KB values once pinned
    240 MB). Measured as memory: requests with unique 5 KB values in every
    position the caches see (peer, chain, host, ``Forwarded`` nodes) leave
    nothing behind."""
    import gc
    import tracemalloc

    caplog.set_level(logging.CRITICAL, logger="wsgikit.proxy")  # no records kept
    configs = [
        ProxyFix(Capture(), x_host=1, forwarded=1),
        ProxyFix(Capture(), x_for=2, x_host=2),
        ProxyFix(Capture(), x_host=1, trusted=["10.0.0.0/8"]),
        ProxyFix(Capture(), x_host=1, forwarded=1, trusted=["10.0.0.0/8"]),
    ]

    def hostile(index: int) -> None:
        long = f"{index}" + "1" * 5000
        node = long[:2000]  # two of them and the header is still under 8 KiB
        headers = {
            "HTTP_X_FORWARDED_FOR": f"10.0.0.9, {node}, [{node}]:80, 10.0.0.5",
            "HTTP_X_FORWARDED_HOST": f"{index}" + "a" * 3000 + ":80, shop.example",
            "HTTP_FORWARDED": f'for="{long[:900]}";by={long[:60]}x;host={index}{"a" * 900}',
        }
        for fix in configs:
            for remote in ("10.0.0.1", long):
                environ = make_environ(REMOTE_ADDR=remote, **headers)
                fix(environ, lambda status, headers, exc_info=None: print)
                assert environ["REMOTE_ADDR"] == remote

    hostile(0)  # the short values that may be cached are cached now
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for index in range(1, 101):
            hostile(index)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Caching the long values would keep megabytes (100 x 8 requests, 2-5 KB each).
    assert kept < 100_000


def test_caches_stay_empty_under_overlong_values() -> None:
    _forwarded.client_address.cache_clear()
    _forwarded.valid_host.cache_clear()
    fix = ProxyFix(Capture(), x_host=1)
    for index in range(200):
        value = f"{index}" + "x" * 6000
        fix(
            make_environ(HTTP_X_FORWARDED_FOR=value, HTTP_X_FORWARDED_HOST=value),
            lambda status, headers, exc_info=None: print,
        )
    assert _forwarded.client_address.cache_info().currsize == 0
    assert _forwarded.valid_host.cache_info().currsize == 0


@pytest.fixture
def parse_counts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the grammar splits a list header and parses an element (a
    spy: no public seam shows work that was not done)."""

    counts = {"items": 0, "elements": 0}

    def counted(name: str, function: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            counts[name] += 1
            return function(*args)

        return wrapper

    monkeypatch.setattr(_forwarded, "split_items", counted("items", _forwarded.split_items))
    monkeypatch.setattr(
        _forwarded, "parse_dict_header", counted("elements", _forwarded.parse_dict_header)
    )
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
    chain = "x" * (_forwarded.MAX_HEADER - len(", 203.0.113.7")) + ", 203.0.113.7"
    assert len(chain) == _forwarded.MAX_HEADER
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

    assert [
        _forwarded.unquote(item) for item in _forwarded.split_items(value)
    ] == parse_list_header(value)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(LIST_TEXT, min_size=1, max_size=5), hops=st.integers(1, 6))
def test_hop_counts_pick_what_werkzeug_picks(values: list[str], hops: int) -> None:
    """Hop counts pick werkzeug's item (its shortcuts included); trusted mode
    (``or_leftmost``) the same item, or the leftmost when there are fewer."""
    from werkzeug.http import parse_list_header

    header = ",".join(values)
    items = parse_list_header(header)
    expected = items[-hops] if len(items) >= hops else None
    environ = {"HTTP_X_FORWARDED_FOR": header}
    assert _forwarded.from_right(environ, "HTTP_X_FORWARDED_FOR", hops, 0) == expected
    leftmost = expected if expected is not None or not items else items[0]
    assert _forwarded.from_right(environ, "HTTP_X_FORWARDED_FOR", hops, 0, True) == leftmost


# --- one rule per home: a forwarded host is not a Host header -------------------


@pytest.mark.parametrize(
    ("host", "forwarded_ok", "host_header_ok"),
    [
        pytest.param("a" * 64 + ".example", True, False, id="label over 63 characters"),
        pytest.param("a-.example", True, False, id="hyphen ending a label"),
        pytest.param("a..example", True, False, id="empty label"),
        pytest.param("example.com:0", False, True, id="port 0"),
        pytest.param("example.com:", False, True, id="empty port"),
        pytest.param("Shop.Example:00443", True, True, id="both: kept vs normalised"),
    ],
)
def test_forwarded_host_rule_differs_from_host_header_rule(
    host: str, forwarded_ok: bool, host_header_ok: bool
) -> None:
    """Why ``_forwarded.valid_host`` does not call ``_host.parse_host``: each
    accepts hosts the other refuses (see the ``_forwarded`` docstring), so
    sharing one would change what ProxyFix believes or what TrustedHosts
    accepts."""
    from wsgikit._host import parse_host

    assert (_forwarded.valid_host(host) is not None) == forwarded_ok
    assert (parse_host(host) is not None) == host_header_ok
    if forwarded_ok and host_header_ok:
        assert _forwarded.valid_host(host) == ("Shop.Example", "443")
        assert parse_host(host) == ("shop.example", 443)
