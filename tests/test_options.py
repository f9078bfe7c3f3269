"""One contract per option name (#9): the shared checks of ``wsgikit._options``,
the same wording for the same bad value in every middleware, every bad option
of every middleware refused at construction (one table), and one meaning of the
INI word ``none``."""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from helpers import bad_option

from wsgikit import (
    CORS,
    AccessLog,
    BasicAuth,
    BearerAuth,
    BodyRewriter,
    Compress,
    FakeForwardedFor,
    InjectHTML,
    JSONErrors,
    MaxBodySize,
    ProxyFix,
    RequestID,
    SecurityHeaders,
    SessionMiddleware,
    TrustedHosts,
)
from wsgikit._options import (
    LIST_FORMS,
    check_bool,
    check_header_value,
    check_int,
    check_items,
    check_seconds,
    check_strings,
    check_token,
    check_tokens,
)
from wsgikit.http_proxy import HTTPProxy
from wsgikit.paste import FACTORIES, HTTP_PROXY_OPTIONS, OptionError, convert_options
from wsgikit.stores import MemoryStore, RedisStore


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


# --- each shared check, table-driven ------------------------------------------------

RANGE = "a whole number of bytes >= 0"
SECONDS = "a number of seconds > 0"
TOKEN_WORDS = "a header name (an RFC 9110 token)"


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (lambda v: check_bool("o", v), True, True),
        (lambda v: check_bool("o", v), False, False),
        (lambda v: check_int("o", v, unit="bytes"), 0, 0),
        (lambda v: check_int("o", v, minimum=1, maximum=9), 9, 9),
        (lambda v: check_seconds("o", v), 0, 0.0),
        (lambda v: check_seconds("o", v, positive=True), 2, 2.0),
        (lambda v: check_seconds("o", v, positive=True), 0.5, 0.5),
        (lambda v: check_strings("o", v), "GET, POST  PUT,,", ("GET", "POST", "PUT")),
        (lambda v: check_strings("o", v), [" a ", "b", ""], ("a", "b")),
        (lambda v: check_strings("o", v), (), ()),
        (lambda v: check_strings("o", v), iter(["x"]), ("x",)),
        (lambda v: check_items("o", v, "keys"), ["a b", "c,d"], ("a b", "c,d")),
        (lambda v: check_token("o", v), "X-Request-ID", "X-Request-ID"),
        (lambda v: check_tokens("o", v, wildcard=True), "*, X-A", ("*", "X-A")),
        (lambda v: check_header_value("o", v), " max-age=1 ", "max-age=1"),
        (lambda v: check_header_value("o", v), "caf\xe9", "caf\xe9"),
    ],
)
def test_shared_checks_accept_and_normalise(
    check: Callable[[object], object], value: object, expected: object
) -> None:
    assert check(value) == expected


@pytest.mark.parametrize(
    ("check", "value", "error", "message"),
    [
        (lambda v: check_bool("o", v), 1, TypeError, "o: must be True or False, not 1"),
        (lambda v: check_bool("o", v), "yes", TypeError, "o: must be True or False, not 'yes'"),
        (lambda v: check_bool("o", v), None, TypeError, "o: must be True or False, not None"),
        (lambda v: check_int("o", v, unit="bytes"), -1, ValueError, f"o: must be {RANGE}, not -1"),
        (lambda v: check_int("o", v, unit="bytes"), 1.0, TypeError, f"o: must be {RANGE}, not 1.0"),
        (lambda v: check_int("o", v, unit="bytes"), True, TypeError,
         f"o: must be {RANGE}, not True"),
        (lambda v: check_int("o", v, unit="bytes"), "1", TypeError, f"o: must be {RANGE}, not '1'"),
        (lambda v: check_int("o", v, minimum=1, maximum=9), 10, ValueError,
         "o: must be a whole number between 1 and 9, not 10"),
        (lambda v: check_int("o", v, unit="seconds", none=True), -5, ValueError,
         "o: must be a whole number of seconds >= 0 or None, not -5"),
        (lambda v: check_seconds("o", v, positive=True), 0, ValueError,
         f"o: must be {SECONDS}, not 0"),
        (lambda v: check_seconds("o", v, positive=True), math.inf, ValueError,
         f"o: must be {SECONDS}, not inf"),
        (lambda v: check_seconds("o", v), math.nan, ValueError,
         "o: must be a number of seconds >= 0, not nan"),
        (lambda v: check_seconds("o", v), -0.5, ValueError,
         "o: must be a number of seconds >= 0, not -0.5"),
        (lambda v: check_seconds("o", v), False, TypeError,
         "o: must be a number of seconds >= 0, not False"),
        (lambda v: check_seconds("o", v, none=True), "1", TypeError,
         "o: must be a number of seconds >= 0 or None, not '1'"),
        (lambda v: check_strings("o", v), b"a", TypeError, f"o: must be {LIST_FORMS}, not b'a'"),
        (lambda v: check_strings("o", v), 3, TypeError, f"o: must be {LIST_FORMS}, not 3"),
        (lambda v: check_strings("o", v), ["a", 1], TypeError,
         f"o: must be {LIST_FORMS}, not a list holding 1"),
        (lambda v: check_items("o", v, "keys"), "k", TypeError,
         "o: must be a list of keys, not 'k'"),
        (lambda v: check_items("o", v, "keys"), None, TypeError,
         "o: must be a list of keys, not None"),
        (lambda v: check_token("o", v), "X Id", ValueError,
         f"o: must be {TOKEN_WORDS}, not 'X Id'"),
        (lambda v: check_token("o", v), b"X", TypeError, f"o: must be {TOKEN_WORDS}, not b'X'"),
        (lambda v: check_token("o", v), "", ValueError, f"o: must be {TOKEN_WORDS}, not ''"),
        (lambda v: check_token("o", v, "a cookie name"), "a;b", ValueError,
         "o: must be a cookie name (an RFC 9110 token), not 'a;b'"),
        (lambda v: check_tokens("o", v), ["a b"], ValueError,
         "o: must be header names or methods (RFC 9110 tokens), not 'a b'"),
        (lambda v: check_tokens("o", v, wildcard=True), "X-A, X:B", ValueError,
         "o: must be header names or methods (RFC 9110 tokens), not 'X:B'"),
        (lambda v: check_header_value("o", v), "a\r\nSet-Cookie: x", ValueError,
         "o: must be header text (latin-1, not empty, no CR, LF or other control characters), "
         "not 'a\\r\\nSet-Cookie: x'"),
        (lambda v: check_header_value("o", v), "  ", ValueError, "o: must be header text"),
        (lambda v: check_header_value("o", v), "\u2603", ValueError, "o: must be header text"),
        (lambda v: check_header_value("o", v), 1, TypeError, "o: must be header text"),
    ],
)  # fmt: skip
def test_shared_checks_refuse_with_one_wording(
    check: Callable[[object], object], value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        check(value)
    assert str(caught.value).startswith(message)
    assert type(caught.value) is error


def test_long_values_are_cut_in_messages() -> None:
    with pytest.raises(TypeError) as caught:
        check_bool("o", "x" * 500)
    assert len(str(caught.value)) < 120


# --- the same bad value, the same words, in every middleware --------------------------

KEY = "k" * 32


def _classes() -> list[tuple[Callable[..., object], dict[str, Any]]]:
    """Every middleware (and store), with the arguments it needs."""
    return [
        (JSONErrors, {"app": app}),
        (Compress, {"app": app}),
        (BodyRewriter, {"app": app, "rewrite": bytes}),
        (InjectHTML, {"app": app, "snippet": "<p>"}),
        (SessionMiddleware, {"app": app, "secret_key": KEY}),
        (BasicAuth, {"app": app, "users": {}}),
        (BearerAuth, {"app": app, "verify": str}),
        (CORS, {"app": app}),
        (TrustedHosts, {"app": app, "hosts": ["example.com"]}),
        (SecurityHeaders, {"app": app}),
        (RequestID, {"app": app}),
        (AccessLog, {"app": app}),
        (MaxBodySize, {"app": app, "limit": 10}),
        (HTTPProxy, {"upstream": "http://127.0.0.1:9"}),
        (ProxyFix, {"app": app}),
        (FakeForwardedFor, {"app": app}),
        (MemoryStore, {}),
        (RedisStore, {"url": "redis://127.0.0.1:9"}),
    ]


def _message(cls: Callable[..., object], base: dict[str, Any], option: str, bad: object) -> str:
    with pytest.raises((TypeError, ValueError)) as caught:
        cls(**{**base, option: bad})
    return f"{type(caught.value).__name__}: {caught.value}"


def _bool_options() -> list[tuple[Callable[..., object], dict[str, Any], str]]:
    found = []
    for cls, base in _classes():
        for name, parameter in inspect.signature(cls).parameters.items():
            if parameter.annotation == "bool":
                found.append((cls, base, name))
    return found


@pytest.mark.parametrize("bad", [1, "true", None])
def test_every_bool_option_refuses_with_the_same_words(bad: object) -> None:
    options = _bool_options()
    assert len(options) >= 15  # the walk found them (a typo would find none)
    for cls, base, name in options:
        assert _message(cls, base, name, bad) == (
            f"TypeError: {name}: must be True or False, not {bad!r}"
        ), cls


# (option, bad value) -> the classes that take the option, and the one message
# all of them give. An option whose contract differs between classes (buffer_limit
# takes None in the rewriters only, max_age is >= 1 for a cookie but >= 0 for
# a preflight cache) says so in its words, one row per contract.
SAME_WORDS = [
    ("timeout", 0, [HTTPProxy, RedisStore],
     "ValueError: timeout: must be a number of seconds > 0, not 0"),
    ("timeout", True, [HTTPProxy, RedisStore],
     "TypeError: timeout: must be a number of seconds > 0, not True"),
    ("timeout", math.inf, [HTTPProxy, RedisStore],
     "ValueError: timeout: must be a number of seconds > 0, not inf"),
    ("realm", "a\nb", [BasicAuth, BearerAuth],
     "ValueError: realm: must be a str of 1 to 200 printable ASCII characters "
     "(no control characters, CR or LF), not 'a\\nb'"),
    ("realm", b"api", [BasicAuth, BearerAuth],
     "TypeError: realm: must be a str of 1 to 200 printable ASCII characters "
     "(no control characters, CR or LF), not bytes"),
    ("content_types", "text", [Compress, BodyRewriter, InjectHTML],
     "ValueError: content_types: 'text' is not a media type pattern "
     "(use type/subtype, type/*, */* or +suffix)"),
    ("content_types", b"text/html", [Compress, BodyRewriter, InjectHTML],
     "TypeError: content_types: must be media type patterns (a list of str, or one str), "
     "not bytes"),
    ("buffer_limit", -1, [BodyRewriter, InjectHTML],
     "ValueError: buffer_limit: must be a whole number of bytes >= 0 or None, not -1"),
    ("buffer_limit", -1, [Compress],
     "ValueError: buffer_limit: must be a whole number of bytes >= 0, not -1"),
    ("buffer_limit", "1", [Compress],
     "TypeError: buffer_limit: must be a whole number of bytes >= 0, not '1'"),
    ("min_size", -1, [Compress],
     "ValueError: min_size: must be a whole number of bytes >= 0, not -1"),
    ("limit", 1.5, [MaxBodySize],
     "TypeError: limit: must be a whole number of bytes >= 0, not 1.5"),
    ("max_age", -1, [CORS],
     "ValueError: max_age: must be a whole number of seconds >= 0 or None, not -1"),
    ("max_age", 0, [SessionMiddleware],
     "ValueError: max_age: must be a whole number of seconds (or a timedelta) >= 1 or None, "
     "not 0"),
    ("max_age", 1.5, [CORS],
     "TypeError: max_age: must be a whole number of seconds >= 0 or None, not 1.5"),
    ("pool_size", 0, [HTTPProxy], "ValueError: pool_size: must be a whole number >= 1, not 0"),
    ("sweep", "10", [MemoryStore], "TypeError: sweep: must be a whole number >= 1, not '10'"),
    ("cache_ttl", -1, [BasicAuth],
     "ValueError: cache_ttl: must be a number of seconds >= 0, not -1"),
    ("cache_size", -1, [BasicAuth], "ValueError: cache_size: must be a whole number >= 0, not -1"),
    ("reload_interval", "1", [BasicAuth],
     "TypeError: reload_interval: must be a number of seconds >= 0 or None, not '1'"),
    ("header", "X Id", [RequestID],
     f"ValueError: header: must be {TOKEN_WORDS}, not 'X Id'"),
    ("request_id_header", "X Id", [JSONErrors],
     f"ValueError: request_id_header: must be {TOKEN_WORDS}, not 'X Id'"),
    ("request_id_header", 1, [JSONErrors],
     f"TypeError: request_id_header: must be {TOKEN_WORDS}, not 1"),
    ("cookie_name", "a b", [SessionMiddleware],
     "ValueError: cookie_name: must be a cookie name (an RFC 9110 token), not 'a b'"),
    ("allow_headers", ["X:B"], [CORS],
     "ValueError: allow_headers: must be header names or methods (RFC 9110 tokens), not 'X:B'"),
    ("allow_methods", b"GET", [CORS],
     f"TypeError: allow_methods: must be {LIST_FORMS}, not b'GET'"),
    ("allow_origins", 1, [CORS], f"TypeError: allow_origins: must be {LIST_FORMS}, not 1"),
    ("hosts", [1], [TrustedHosts], f"TypeError: hosts: must be {LIST_FORMS}, not a list holding 1"),
    ("encodings", b"gzip", [Compress], f"TypeError: encodings: must be {LIST_FORMS}, not b'gzip'"),
    ("exempt", 1, [BasicAuth], f"TypeError: exempt: must be {LIST_FORMS}, not 1"),
    ("fallback_keys", KEY, [SessionMiddleware],
     f"TypeError: fallback_keys: must be a list of keys (str or bytes), not '{KEY}'"),
    ("invalid_token_errors", KeyError, [BearerAuth],
     "TypeError: invalid_token_errors: must be a list of exception classes, "
     "not <class 'KeyError'>"),
    ("statuses", [204], [BodyRewriter, InjectHTML],
     "ValueError: statuses: must be a list of status codes 200-599 except 204, 206 and 304, "
     "not a list holding 204"),
    ("format", 3, [AccessLog, JSONErrors],
     "TypeError: format: must be a str or a callable, not int"),
    ("format", "xml", [AccessLog],
     "ValueError: format: must be 'combined', 'json' or a callable, not 'xml'"),
    ("format", "xml", [JSONErrors],
     "ValueError: format: must be 'problem', 'simple' or a callable, not 'xml'"),
    ("csp", "a\rb", [SecurityHeaders],
     "ValueError: csp: must be header text (latin-1, not empty, no CR, LF or other control "
     "characters), not 'a\\rb'"),
]  # fmt: skip


@pytest.mark.parametrize(("option", "bad", "classes", "message"), SAME_WORDS)
def test_the_same_bad_value_gets_the_same_words(
    option: str, bad: object, classes: list[Callable[..., object]], message: str
) -> None:
    bases = dict(_classes())
    assert [_message(cls, bases[cls], option, bad) for cls in classes] == [message] * len(classes)


def test_every_shared_option_name_is_in_the_table() -> None:
    """An option name two classes share has a row naming all of them."""
    owners: dict[str, set[object]] = {}
    for cls, base in _classes():
        for name in inspect.signature(cls).parameters:
            if name not in base:
                owners.setdefault(name, set()).add(cls)
    covered: dict[str, set[object]] = {}
    for option, _bad, classes, _words in SAME_WORDS:
        covered.setdefault(option, set()).update(classes)
    bools = {name for _cls, _base, name in _bool_options()}
    # Two names mean different things in different classes, so no value is
    # refused by all of them: format (JSONErrors, AccessLog: each its own named
    # formats, or a callable) and verify (BasicAuth: a password callable;
    # HTTPProxy: TLS verification, a bool or a CA bundle path), prefix
    # (FakeForwardedFor: a URL path; RedisStore: a key prefix) and forwarded
    # (ProxyFix: a hop count; FakeForwardedFor: a bool, walked with the bools).
    different = {"format", "verify", "prefix", "forwarded"}
    shared = {name for name, classes in owners.items() if len(classes) > 1} - bools - different
    for name in sorted(shared):
        assert covered.get(name) == owners[name], name


@pytest.mark.parametrize(
    ("cls", "base", "option", "one_string", "as_list"),
    [
        (CORS, {"app": app}, "allow_methods", "GET, PUT", ["GET", "PUT"]),
        (CORS, {"app": app}, "allow_origins", "https://a.example https://b.example",
         ["https://a.example", "https://b.example"]),
        (TrustedHosts, {"app": app}, "hosts", "example.com,*.example.com",
         ["example.com", "*.example.com"]),
        (Compress, {"app": app}, "encodings", "gzip", ["gzip"]),
        (BasicAuth, {"app": app, "users": {}}, "exempt", "/health /metrics",
         ["/health", "/metrics"]),
    ],
)  # fmt: skip
def test_a_list_option_takes_one_string_like_an_ini_file(
    cls: Callable[..., Any], base: dict[str, Any], option: str, one_string: str, as_list: list[str]
) -> None:
    from_string = cls(**{**base, option: one_string})
    from_list = cls(**{**base, option: as_list})
    assert getattr(from_string, option) == getattr(from_list, option)
    assert len(getattr(from_string, option)) == len(as_list)


# --- every bad option refused at construction, naming it ---------------------------

SITE = "https://app.example.com"


class BytesJSON:
    """A serializer whose ``dumps`` gives bytes (the session needs text)."""

    def dumps(self, obj: Any) -> bytes:
        return json.dumps(obj).encode()

    def loads(self, text: Any) -> Any:
        return json.loads(text)


# Per class, rows (options, error, match): the constructor given these options
# over the arguments _classes() gives it raises ``error`` matching ``match``.
# The words of options that several classes share are in SAME_WORDS above; bad
# entries of a BasicAuth users table (password hashes) are in test_passwords.py,
# and the cookie-name prefix rules (__Host-, __Secure-) in test_sessions.py.
REFUSED: dict[Callable[..., object], list[Any]] = {
    AccessLog: [
        pytest.param({"logger": ""}, ValueError, "logger", id="empty logger"),
        pytest.param({"logger": 3}, TypeError, "logger", id="logger type"),
        pytest.param({"format": "common"}, ValueError, "format", id="unknown format"),
        pytest.param({"format": 3}, TypeError, "format", id="format type"),
    ],
    BasicAuth: [
        pytest.param(
            {"users": None}, ValueError, "exactly one of users, verify or htpasswd", id="no source"
        ),
        pytest.param(
            {"verify": lambda u, p: True}, ValueError, r"got users, verify", id="two sources"
        ),
        pytest.param({"users": [("a", "b")]}, TypeError, "users: must be a mapping", id="list"),
        pytest.param(
            {"users": None, "verify": "module:func"},
            TypeError,
            "verify: must be callable",
            id="verify",
        ),
        pytest.param(
            {"users": None, "htpasswd": 42},
            TypeError,
            "htpasswd: must be a file path",
            id="htpasswd",
        ),
        pytest.param({"realm": "a\r\nb"}, ValueError, "realm", id="realm CRLF"),
        pytest.param({"realm": ""}, ValueError, "realm", id="realm empty"),
        pytest.param({"realm": "Zürich"}, ValueError, "realm", id="realm non-ASCII"),
        pytest.param({"realm": b"x"}, TypeError, "realm: must be a str", id="bytes"),
        pytest.param({"exempt": "/"}, ValueError, "every path", id="exempt root"),
        pytest.param({"exempt": ["health"]}, ValueError, "absolute", id="relative"),
        pytest.param({"exempt": ["/a/../b"]}, ValueError, "segment", id="dots"),
        pytest.param({"exempt": [b"/a"]}, TypeError, "exempt", id="exempt bytes"),
        pytest.param({"exempt": 3}, TypeError, "exempt", id="exempt int"),
        pytest.param({"cache_ttl": -1}, ValueError, "cache_ttl", id="ttl<0"),
        pytest.param({"cache_size": 1.5}, TypeError, "cache_size", id="size float"),
        pytest.param({"reload_interval": "1"}, TypeError, "reload_interval", id="reload str"),
        pytest.param({"reload_interval": -1}, ValueError, "reload_interval", id="reload<0"),
        pytest.param({"reload_interval": True}, TypeError, "reload_interval", id="reload bool"),
        pytest.param({"cache_ttl": float("nan")}, ValueError, "cache_ttl", id="ttl NaN"),
        pytest.param({"cache_ttl": "60"}, TypeError, "cache_ttl", id="ttl str"),
        pytest.param({"cache_size": -1}, ValueError, "cache_size", id="size<0"),
        pytest.param({"cache_size": True}, TypeError, "cache_size", id="size bool"),
    ],
    BearerAuth: [
        pytest.param({"verify": "nope"}, TypeError, "verify: must be callable", id="verify"),
        pytest.param({"realm": "a\nb"}, ValueError, "realm", id="realm"),
        pytest.param({"invalid_token_errors": [ValueError, "x"]}, TypeError, "exception", id="e"),
    ],
    BodyRewriter: [
        pytest.param({"rewrite": None}, TypeError, "rewrite", id="neither rewrite nor stream"),
        pytest.param({"stream": iter}, TypeError, "stream", id="both rewrite and stream"),
        pytest.param({"rewrite": b"x"}, TypeError, "rewrite", id="rewrite bytes"),
        pytest.param({"rewrite": None, "stream": 3}, TypeError, "stream", id="stream int"),
        pytest.param(
            {"content_types": ["html"]},
            ValueError,
            "content_types",
            id="content type without slash",
        ),
        pytest.param(
            {"content_types": ["text/ html"]},
            ValueError,
            "content_types",
            id="content type with space",
        ),
        pytest.param(
            {"content_types": ["*/html"]}, ValueError, "content_types", id="wildcard major type"
        ),
        pytest.param({"content_types": 5}, TypeError, "content_types", id="content types int"),
        pytest.param(
            {"content_types": [b"text/html"]}, TypeError, "content_types", id="content type bytes"
        ),
        pytest.param({"content_types": []}, ValueError, "content_types", id="no content types"),
        pytest.param({"buffer_limit": -1}, ValueError, "buffer_limit", id="negative limit"),
        pytest.param({"buffer_limit": "10"}, TypeError, "buffer_limit", id="limit str"),
        pytest.param({"buffer_limit": True}, TypeError, "buffer_limit", id="limit bool"),
        pytest.param({"statuses": [206]}, ValueError, "statuses", id="status 206"),
        pytest.param({"statuses": [99]}, ValueError, "statuses", id="status out of range"),
        pytest.param({"statuses": ["200"]}, TypeError, "statuses", id="status str"),
        pytest.param({"statuses": 200}, TypeError, "statuses", id="statuses int"),
    ],
    Compress: [
        pytest.param({"min_size": -1}, ValueError, "min_size", id="negative min_size"),
        pytest.param({"min_size": "500"}, TypeError, "min_size", id="min_size str"),
        pytest.param({"level": 0}, ValueError, "level", id="level 0"),
        pytest.param({"level": 10}, ValueError, "level", id="level 10"),
        pytest.param({"level": True}, TypeError, "level", id="level bool"),
        pytest.param({"level": 6.0}, TypeError, "level", id="level float"),
        pytest.param({"buffer_limit": -1}, ValueError, "buffer_limit", id="negative limit"),
        pytest.param({"flush_size": 0}, ValueError, "flush_size", id="flush_size 0"),
        pytest.param({"brotli_quality": 12}, ValueError, "brotli_quality", id="quality 12"),
        pytest.param({"zstd_level": 0}, ValueError, "zstd_level", id="zstd level 0"),
        pytest.param({"zstd_level": 23}, ValueError, "zstd_level", id="zstd level 23"),
        pytest.param({"encodings": ("deflate",)}, ValueError, "encodings", id="deflate"),
        pytest.param({"encodings": ()}, ValueError, "encodings", id="no encodings"),
        pytest.param({"encodings": ("gzip", "GZIP")}, ValueError, "encodings", id="twice"),
        pytest.param({"encodings": b"gzip"}, TypeError, "encodings", id="encodings bytes"),
        pytest.param({"encodings": (1,)}, TypeError, "encodings", id="encoding int"),
        pytest.param({"content_types": ("text",)}, ValueError, "content_types", id="no slash"),
        pytest.param({"content_types": ("text/ html",)}, ValueError, "content_types", id="space"),
        pytest.param({"content_types": ()}, ValueError, "content_types", id="no types"),
        pytest.param({"flush_types": ("+",)}, ValueError, "flush_types", id="empty suffix"),
        pytest.param({"backend": "brotli"}, ValueError, "^backend: use one of", id="backend"),
        pytest.param({"backend": "ZLIB"}, ValueError, "^backend: use one of", id="backend case"),
        pytest.param({"backend": 1}, TypeError, "^backend: must be a str", id="backend int"),
        pytest.param({"level": 0}, ValueError, "^level: the automatic backend", id="auto 0"),
        pytest.param({"backend": "isal"}, ValueError, "^level: backend 'isal' takes", id="isal 6"),
        pytest.param({"backend": "zlib", "level": 0}, ValueError, "^level: backend", id="zlib 0"),
    ],
    CORS: [
        pytest.param(
            {"allow_origins": ["*"], "allow_credentials": True},
            ValueError,
            "credentials",
            id="* + credentials",
        ),
        pytest.param({"allow_origins": ["*", SITE]}, ValueError, "allow_origins", id="* and more"),
        pytest.param({"allow_origins": SITE.encode()}, TypeError, "allow_origins", id="bytes"),
        pytest.param(
            {"allow_origins": [f"{SITE}/"]}, ValueError, "trailing slash", id="trailing slash"
        ),
        pytest.param(
            {"allow_origins": ["app.example.com"]}, ValueError, "allow_origins", id="no scheme"
        ),
        pytest.param({"allow_origins": [1]}, TypeError, "allow_origins", id="not a str"),
        pytest.param({"allow_origin_regex": "("}, ValueError, "allow_origin_regex", id="bad regex"),
        pytest.param({"allow_origin_regex": 1}, TypeError, "allow_origin_regex", id="regex type"),
        pytest.param({"allow_methods": ["GET POST"]}, ValueError, "allow_methods", id="bad method"),
        pytest.param({"allow_headers": ["X A"]}, ValueError, "allow_headers", id="bad header"),
        pytest.param(
            {"expose_headers": ["*"], "allow_credentials": True, "allow_origins": [SITE]},
            ValueError,
            "expose_headers",
            id="expose * + credentials",
        ),
        pytest.param({"max_age": -1}, ValueError, "max_age", id="negative max_age"),
        pytest.param({"max_age": True}, TypeError, "max_age", id="bool max_age"),
        pytest.param({"max_age": 1.5}, TypeError, "max_age", id="float max_age"),
        pytest.param(
            {"allow_credentials": "true"}, TypeError, "allow_credentials", id="credentials str"
        ),
        pytest.param(
            {"allow_private_network": 1}, TypeError, "allow_private_network", id="pna int"
        ),
    ],
    FakeForwardedFor: [
        pytest.param({"real_ip": "nope"}, ValueError, "real_ip", id="real_ip word"),
        pytest.param({"real_ip": "1.2.3.4:80"}, ValueError, "real_ip", id="real_ip port"),
        pytest.param({"real_ip": "fe80::1%eth0"}, ValueError, "real_ip", id="real_ip scope"),
        pytest.param({"real_ip": 1}, TypeError, "real_ip", id="real_ip int"),
        pytest.param({"proxies": ["10.0.0.1", "x"]}, ValueError, "proxies", id="proxies word"),
        pytest.param({"proxies": [b"10.0.0.1"]}, TypeError, "proxies", id="proxies bytes"),
        pytest.param({"proxies": 5}, TypeError, "proxies", id="proxies int"),
        pytest.param({"override": 1}, TypeError, "override", id="override int"),
        pytest.param({"proto": "ftp"}, ValueError, "proto", id="proto ftp"),
        pytest.param({"host": "a/b"}, ValueError, "host", id="host path"),
        pytest.param({"host": "a\r\nb"}, ValueError, "host", id="host CRLF"),
        pytest.param({"port": 0}, ValueError, "port", id="port 0"),
        pytest.param({"port": "80"}, TypeError, "port", id="port str"),
        pytest.param({"proto": b"http"}, TypeError, "proto", id="proto bytes"),
        pytest.param({"host": 8080}, TypeError, "host", id="host int"),
        pytest.param({"prefix": 1}, TypeError, "prefix", id="prefix int"),
        pytest.param({"prefix": "//evil"}, ValueError, "prefix", id="prefix //"),
        pytest.param({"forwarded": "yes"}, TypeError, "forwarded", id="forwarded str"),
    ],
    HTTPProxy: [
        pytest.param({"upstream": "ftp://x"}, ValueError, "upstream", id="scheme"),
        pytest.param({"upstream": "http://"}, ValueError, "upstream", id="no host"),
        pytest.param({"upstream": "http://x/?a=1"}, ValueError, "query", id="query"),
        pytest.param({"upstream": "http://u:p@x"}, ValueError, "credentials", id="credentials"),
        pytest.param({"upstream": "http://x:99999"}, ValueError, "upstream", id="port"),
        pytest.param({"upstream": b"http://x"}, TypeError, "upstream", id="bytes"),
        pytest.param({"timeout": 0}, ValueError, "timeout", id="timeout zero"),
        pytest.param({"timeout": -1.5}, ValueError, "timeout", id="timeout negative"),
        pytest.param({"timeout": float("nan")}, ValueError, "timeout", id="timeout nan"),
        pytest.param({"timeout": "5"}, TypeError, "timeout", id="timeout str"),
        pytest.param({"timeout": True}, TypeError, "timeout", id="timeout bool"),
        pytest.param({"pool_size": 0}, ValueError, "pool_size", id="pool zero"),
        pytest.param({"pool_size": 2.5}, TypeError, "pool_size", id="pool float"),
        pytest.param({"preserve_host": 1}, TypeError, "preserve_host", id="flag int"),
        pytest.param({"rewrite_cookies": "no"}, TypeError, "rewrite_cookies", id="flag str"),
        pytest.param({"verify": 1}, TypeError, "verify", id="verify int"),
    ],
    InjectHTML: [
        pytest.param({"snippet": 3}, TypeError, "snippet", id="snippet int"),
        pytest.param({"snippet": ""}, ValueError, "snippet", id="empty snippet"),
        pytest.param({"marker": ""}, ValueError, "marker", id="empty marker"),
        pytest.param({"marker": b"</body>"}, TypeError, "marker", id="marker bytes"),
        pytest.param(
            {"content_types": ["nope"]}, ValueError, "content_types", id="inject bad content type"
        ),
    ],
    JSONErrors: [
        bad_option(ValueError, "format name", format="xml"),
        bad_option(TypeError, "format type", format=3),
        bad_option(TypeError, "debug", debug="yes"),
        bad_option(TypeError, "negotiate", negotiate=1),
        bad_option(TypeError, "duck_typing", duck_typing="no"),
        bad_option(TypeError, "exc type", exceptions=[TimeoutError]),
        bad_option(TypeError, "exc key", exceptions={"x": 500}),
        bad_option(ValueError, "exc 2xx", exceptions={TimeoutError: 200}),
        bad_option(ValueError, "rid", request_id_header="bad header"),
        bad_option(ValueError, "types uri", types={404: ""}),
        bad_option(ValueError, "types status", types={302: "x"}),
        bad_option(ValueError, "ctype", content_type="text/html"),
    ],
    MaxBodySize: [
        pytest.param({"limit": -1}, ValueError, "limit", id="negative"),
        pytest.param({"limit": "10"}, TypeError, "limit", id="str"),
        pytest.param({"limit": 1.5}, TypeError, "limit", id="float"),
        pytest.param({"limit": True}, TypeError, "limit", id="bool"),
        pytest.param({"limit": None}, TypeError, "limit", id="None"),
    ],
    MemoryStore: [
        pytest.param({"sweep": 0}, ValueError, "sweep", id="sweep 0"),
    ],
    ProxyFix: [
        pytest.param({"x_for": "1"}, TypeError, "x_for", id="x_for str"),
        pytest.param({"x_proto": "true"}, TypeError, "x_proto", id="x_proto str"),
        pytest.param({"x_host": -1}, ValueError, "x_host", id="x_host negative"),
        pytest.param({"x_port": 1.0}, TypeError, "x_port", id="x_port float"),
        pytest.param({"x_prefix": None}, TypeError, "x_prefix", id="x_prefix None"),
        pytest.param({"forwarded": -2}, ValueError, "forwarded", id="forwarded negative"),
        pytest.param({"trusted": []}, ValueError, "trusted", id="trusted empty"),
        pytest.param({"trusted": ["10.0.0.300"]}, ValueError, "trusted", id="trusted bad"),
        pytest.param({"trusted": ["fe80::1%eth0"]}, ValueError, "trusted", id="trusted scope"),
        pytest.param({"trusted": [10]}, TypeError, "trusted", id="trusted int item"),
        pytest.param({"trusted": 10}, TypeError, "trusted", id="trusted int"),
        pytest.param({"clear_untrusted": "yes"}, TypeError, "clear_untrusted", id="clear str"),
    ],
    RedisStore: [
        pytest.param({"url": "http://x"}, ValueError, "url", id="http url"),
        pytest.param({"url": 42}, TypeError, "url", id="int url"),
        pytest.param({"url": "redis://x", "prefix": 1}, TypeError, "prefix", id="int prefix"),
        pytest.param({"url": "redis://x", "timeout": 0}, ValueError, "timeout", id="zero timeout"),
        pytest.param(
            {"url": "redis://x", "timeout": True}, TypeError, "timeout", id="bool timeout"
        ),
        pytest.param({"url": "redis://x", "timeout": "1"}, TypeError, "timeout", id="str timeout"),
        pytest.param({"url": "redis://x", "timeout": -1.0}, ValueError, "timeout", id="negative"),
    ],
    RequestID: [
        pytest.param({"header": "bad header"}, ValueError, "header", id="header"),
        pytest.param({"header": ""}, ValueError, "header", id="empty header"),
        pytest.param({"trust_incoming": "yes"}, TypeError, "trust_incoming", id="trust"),
        pytest.param({"generator": "uuid4"}, TypeError, "generator", id="not callable"),
        pytest.param({"generator": lambda: "a b"}, ValueError, "generator", id="bad output"),
        pytest.param({"generator": lambda: 42}, ValueError, "generator", id="not str"),
    ],
    SessionMiddleware: [
        bad_option(ValueError, "empty key", secret_key=""),
        bad_option(TypeError, "no key", secret_key=None),
        bad_option(TypeError, "int key", secret_key=42),
        bad_option(TypeError, "one str fallback", fallback_keys="old"),
        bad_option(ValueError, "empty fallback", fallback_keys=[""]),
        bad_option(TypeError, "int fallback", fallback_keys=[1]),
        bad_option(ValueError, "space in name", cookie_name="a b"),
        bad_option(ValueError, "; in name", cookie_name="a;b"),
        bad_option(ValueError, "empty name", cookie_name=""),
        bad_option(TypeError, "bytes name", cookie_name=b"s"),
        bad_option(ValueError, "zero max_age", max_age=0),
        bad_option(ValueError, "negative max_age", max_age=-5),
        bad_option(TypeError, "str max_age", max_age="3600"),
        bad_option(TypeError, "bool max_age", max_age=True),
        bad_option(TypeError, "float max_age", max_age=1.5),
        bad_option(ValueError, "bad samesite", samesite="sometimes"),
        bad_option(ValueError, "SameSite=None not secure", "secure", samesite="None"),
        bad_option(ValueError, "partitioned not secure", "secure", partitioned=True),
        bad_option(TypeError, "str secure", secure="yes"),
        bad_option(TypeError, "int httponly", httponly=1),
        bad_option(TypeError, "None flag", flask_compatible=None),
        bad_option(TypeError, "str refresh", refresh_each_request="no"),
        bad_option(ValueError, "bad domain", domain="exa mple.com"),
        bad_option(TypeError, "int domain", domain=5),
        bad_option(ValueError, "relative path", path="app"),
        bad_option(ValueError, "; in path", path="/a;b"),
        bad_option(TypeError, "int salt", salt=5),
        bad_option(ValueError, "unknown digest", digest="md4x"),
        bad_option(ValueError, "variable digest", digest="shake_128"),
        bad_option(TypeError, "digest function", digest=hashlib.sha256),
        bad_option(TypeError, "bad serializer", serializer=object()),
        bad_option(ValueError, "bad oversize", oversize="ignore"),
        bad_option(ValueError, "None oversize", oversize=None),
        bad_option(TypeError, "str permanent", permanent="no"),
        bad_option(TypeError, "int detect", detect_changes=1),
        bad_option(TypeError, "a serializer writing bytes", serializer=BytesJSON()),
        pytest.param({"store": object()}, TypeError, "store", id="not a store"),
        pytest.param({"store": MemoryStore(), "max_age": None}, ValueError, "max_age", id="no ttl"),
        pytest.param(
            {"store": MemoryStore(), "flask_compatible": True},
            ValueError,
            "flask_compatible",
            id="flask cookie",
        ),
    ],
    SecurityHeaders: [
        pytest.param({"hsts": "includeSubDomains"}, ValueError, "hsts", id="hsts without max-age"),
        pytest.param({"hsts": "max-age=abc"}, ValueError, "hsts", id="hsts bad max-age"),
        pytest.param({"hsts": 31536000}, TypeError, "hsts", id="hsts int"),
        pytest.param({"csp": "default-src 'self'\r\nX-Evil: 1"}, ValueError, "csp", id="CRLF"),
        pytest.param({"csp": "   "}, ValueError, "csp", id="empty csp"),
        pytest.param(
            {"permissions_policy": "camera=(\u2603)"},
            ValueError,
            "permissions_policy",
            id="non-latin-1",
        ),
        pytest.param(
            {"frame_options": "ALLOW-FROM https://a.example"},
            ValueError,
            "frame_options",
            id="ALLOW-FROM",
        ),
        pytest.param({"referrer_policy": "never"}, ValueError, "referrer_policy", id="referrer"),
        pytest.param({"coop": "same-site"}, ValueError, "coop", id="coop"),
        pytest.param(
            {"content_type_options": "nosniff"}, TypeError, "content_type_options", id="cto str"
        ),
        pytest.param({"https_redirect": "yes"}, TypeError, "https_redirect", id="redirect str"),
        pytest.param({"frame_options": True}, TypeError, "frame_options", id="True is no value"),
    ],
    TrustedHosts: [
        pytest.param({"hosts": b"example.com"}, TypeError, "hosts", id="bytes, not a list"),
        pytest.param({"hosts": []}, ValueError, "hosts", id="empty"),
        pytest.param({"hosts": [b"example.com"]}, TypeError, "hosts", id="bytes item"),
        pytest.param({"hosts": ["example.com/path"]}, ValueError, "hosts", id="path"),
        pytest.param({"hosts": ["*.[::1]"]}, ValueError, "hosts", id="wildcard IPv6"),
        pytest.param({"hosts": ["exa mple.com"]}, ValueError, "hosts", id="space"),
        pytest.param({"hosts": ["\udcff.example"]}, ValueError, "hosts", id="not encodable"),
        pytest.param({"www_redirect": "yes"}, TypeError, "www_redirect", id="www_redirect str"),
    ],
}


@pytest.mark.parametrize(
    ("cls", "options", "error", "match"),
    [
        pytest.param(cls, *row.values, id=f"{cls.__name__}: {row.id}")
        for cls, rows in REFUSED.items()
        for row in rows
    ],
)
def test_bad_options_are_refused_at_construction(
    cls: Callable[..., object], options: dict[str, Any], error: type[Exception], match: str
) -> None:
    bases = dict(_classes())
    with pytest.raises(error, match=match):
        cls(**{**bases[cls], **options})


# --- INI: "none" means Python None, or is refused naming the option -------------------


def _every_ini_option() -> list[tuple[str, str, Any, Callable[..., object]]]:
    rows = [
        (name, option, convert, factory.middleware)
        for name, factory in FACTORIES.items()
        for option, convert in factory.options.items()
    ]
    rows += [
        ("http_proxy", option, convert, HTTPProxy) for option, convert in HTTP_PROXY_OPTIONS.items()
    ]
    return rows


@pytest.mark.parametrize("word", ["none", "None", " NONE "])
def test_ini_none_is_python_none_or_refused_naming_the_option(word: str) -> None:
    rows = _every_ini_option()
    assert len(rows) > 80
    converted = []
    for factory, option, convert, middleware in rows:
        try:
            options = convert_options(factory, {option: word}, {option: convert})
        except OptionError as error:
            assert error.option == option, (factory, option)
            assert f"[{factory}] option {option}:" in str(error)
            continue
        assert options == {option: None}, (factory, option, options)
        # Only where the constructor takes None.
        parameter = inspect.signature(middleware).parameters[option]
        assert parameter.default is None or "None" in str(parameter.annotation), (factory, option)
        converted.append(option)
    assert "max_age" in converted and "store" in converted and "hsts" in converted


@pytest.mark.parametrize(
    ("value", "expected"),
    [('"None"', "None"), ("'None'", "None"), ("off", None), ("false", None), ("strict", "strict")],
)
def test_ini_samesite_none_value_is_quoted(value: str, expected: str | None) -> None:
    options = convert_options("session", {"samesite": value}, FACTORIES["session"].options)
    assert options["samesite"] == expected


def test_ini_samesite_bare_none_is_refused_with_the_spelling() -> None:
    with pytest.raises(OptionError, match=r'option samesite: write "None" \(quoted\)'):
        FACTORIES["session"].convert({"secret_key": KEY, "samesite": '"none"'})
    with pytest.raises(OptionError, match=r'option samesite: write "None" \(quoted\)'):
        FACTORIES["session"].convert({"secret_key": KEY, "samesite": "none"})


def test_ini_samesite_quoted_none_reaches_the_cookie() -> None:
    middleware = FACTORIES["session"](app, {}, secret_key=KEY, samesite='"None"', secure="true")
    assert isinstance(middleware, SessionMiddleware)
    assert middleware.samesite == "None"
