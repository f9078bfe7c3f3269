"""wsgikit._forwarded, the forwarded-header grammar: hostile input through
ProxyFix (hypothesis), list splitting against werkzeug, size limits and the
bounded caches."""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any
from wsgiref.types import WSGIEnvironment

import pytest
from conftest import (
    make_environ,
)
from helpers import FORWARDED_HEADERS, Capture, seen, through
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsgikit import _forwarded
from wsgikit.proxy import FORWARDED_KEY, ProxyFix

ORIGINAL = make_environ()


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
