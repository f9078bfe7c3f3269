"""CORS: preflights answered by the middleware, responses decorated (errors
too), exact origin matching, Vary: Origin, private network access, options."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from functools import partial
from typing import Any

import pytest
from helpers import (
    APP_KINDS,
    make_environ,
    raising_app,
    run_wsgi,
    testapp,
    text_app,
)
from hypothesis import event, example, given
from hypothesis import strategies as st

from wsgikit import CORS, BasicAuth, JSONErrors
from wsgikit.cors import parse_header_names, parse_origin

SITE = "https://app.example.com"


def never_called(environ: Any, start_response: Any) -> Any:
    raise AssertionError("the application must not see a preflight")


def preflight_headers(
    origin: str = SITE,
    method: str = "PUT",
    request_headers: str | None = None,
    private_network: bool = False,
) -> dict[str, str]:
    """The request headers of a preflight (the Access-Control-Request-* ones
    only when given)."""
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if request_headers is not None:
        headers["Access-Control-Request-Headers"] = request_headers
    if private_network:
        headers["Access-Control-Request-Private-Network"] = "true"
    return headers


def preflight(
    origin: str = SITE,
    method: str = "PUT",
    request_headers: str | None = None,
    app: Any = never_called,
    status: int | str = "*",
    private_network: bool = False,
    **options: Any,
) -> Any:
    options.setdefault("allow_origins", [SITE])
    headers = preflight_headers(origin, method, request_headers, private_network)
    test = testapp(app, partial(CORS, **options))
    return test.options("/", headers=headers, status=status)


def simple(
    origin: str | None = SITE, app: Any = None, status: int | str = "*", **options: Any
) -> Any:
    options.setdefault("allow_origins", [SITE])
    test = testapp(app or text_app(), partial(CORS, **options))
    return test.get("/", headers={"Origin": origin} if origin else {}, status=status)


# --- preflight ------------------------------------------------------------------------


def test_allowed_preflight_is_answered_without_the_app() -> None:
    response = preflight(
        request_headers="X-Token, content-type",
        allow_methods=["GET", "put", "DELETE"],
        allow_headers=["X-Token"],
        allow_credentials=True,
        max_age=1200,
    )
    assert response.status_int == 204 and response.body == b""
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == SITE
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Allow-Methods"] == "GET, PUT, DELETE"
    allowed = {name.strip() for name in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"x-token", "content-type"} <= allowed
    assert headers["Access-Control-Max-Age"] == "1200"
    assert "Origin" in headers["Vary"]


@pytest.mark.parametrize(
    ("origin", "method", "request_headers", "reason"),
    [
        pytest.param("https://evil.example", "PUT", None, "origin not allowed", id="origin"),
        pytest.param(SITE, "PATCH", None, "method not allowed", id="method"),
        pytest.param(SITE, "put", None, "method not allowed", id="method case-sensitive"),
        pytest.param(SITE, "P UT", None, "invalid Access-Control-Request-Method", id="bad method"),
        pytest.param(SITE, "PUT", "x-secret", "header not allowed", id="header"),
        pytest.param(
            SITE,
            "PUT",
            "x-ok, bad header",
            "invalid Access-Control-Request-Headers",
            id="bad header",
        ),
    ],
)
def test_refused_preflight_gets_403_without_the_app(
    origin: str,
    method: str,
    request_headers: str | None,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wsgikit.cors")
    response = preflight(
        origin, method, request_headers, allow_methods=["PUT"], allow_headers=["x-ok"], status=403
    )
    assert reason in response.text
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]
    assert any(reason in record.getMessage() for record in caplog.records)


def test_refusal_log_line_is_escaped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wsgikit.cors")
    preflight("https://evil.example\r\nX: y" + "z" * 300, status=403)
    (record,) = [r for r in caplog.records if r.name == "wsgikit.cors"]
    assert "\r" not in record.getMessage() and "\\r\\n" in record.getMessage()
    assert len(record.getMessage()) < 300


def test_repeated_preflights_are_answered_alike_and_each_refusal_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Answers are cached; a server changing the header list must not alter the cache."""
    caplog.set_level(logging.INFO, logger="wsgikit.cors")
    layer = CORS(never_called, allow_origins=[SITE], allow_methods=["PUT"])
    allowed = {"REQUEST_METHOD": "OPTIONS", "HTTP_ORIGIN": SITE}
    allowed["HTTP_ACCESS_CONTROL_REQUEST_METHOD"] = "PUT"

    def mutating_server(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        headers.append(("X-Mutated", "1"))
        return lambda data: None

    layer(make_environ(**allowed), mutating_server)
    for _ in range(2):
        again, _, _ = run_wsgi(layer, allowed)
        assert again[0][0] == "204 No Content" and ("X-Mutated", "1") not in again[0][1]
    refused = {**allowed, "HTTP_ORIGIN": "https://evil.example"}
    for _ in range(2):
        calls, _, _ = run_wsgi(layer, refused)
        assert calls[0][0] == "403 Forbidden"
    assert sum("origin not allowed" in r.getMessage() for r in caplog.records) == 2


def test_safelisted_methods_are_always_allowed() -> None:
    assert preflight(method="POST", allow_methods=["PUT"]).status_int == 204


def test_wildcards_answer_with_what_was_asked() -> None:
    response = preflight(
        method="PURGE",
        request_headers="Authorization, X-Any",
        allow_methods=["*"],
        allow_headers=["*"],
        allow_credentials=True,
    )
    assert response.headers["Access-Control-Allow-Methods"] == "PURGE"
    assert response.headers["Access-Control-Allow-Headers"] == "authorization, x-any"


def test_safelisted_request_headers_are_always_allowed() -> None:
    response = preflight(method="POST", request_headers="Content-Type, Accept")
    assert response.status_int == 204


def test_options_without_a_preflight_header_reaches_the_app() -> None:
    test = testapp(text_app(b"app options"), partial(CORS, allow_origins=[SITE]))
    assert test.options("/", headers={"Origin": SITE}).text == "app options"
    no_origin = {"Access-Control-Request-Method": "PUT"}
    assert test.options("/", headers=no_origin).text == "app options"


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [pytest.param(True, "true", id="on"), pytest.param(False, None, id="off")],
)
def test_private_network_access_preflight(enabled: bool, expected: str | None) -> None:
    response = preflight(method="GET", private_network=True, allow_private_network=enabled)
    assert response.status_int == 204
    assert response.headers.get("Access-Control-Allow-Private-Network") == expected


# --- actual requests -----------------------------------------------------------------


def test_allowed_origin_gets_cors_headers_and_vary() -> None:
    response = simple(allow_credentials=True, expose_headers=["X-Total", "ETag"])
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == SITE
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Expose-Headers"] == "X-Total, ETag"
    assert headers["Vary"] == "Origin"


@pytest.mark.parametrize(
    "origin",
    [pytest.param("https://evil.example", id="refused"), pytest.param(None, id="no Origin")],
)
def test_vary_origin_even_without_cors_headers(origin: str | None) -> None:
    response = simple(origin)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Vary"] == "Origin"


def test_vary_is_merged_with_the_apps() -> None:
    app = text_app(headers=[("Vary", "Accept-Encoding")])
    assert simple(app=app).headers.getall("Vary") == ["Accept-Encoding, Origin"]


def test_star_sends_a_static_wildcard_everywhere_without_vary() -> None:
    for origin in (SITE, "null", None):
        response = simple(origin, allow_origins=["*"], expose_headers=["*"])
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Access-Control-Expose-Headers"] == "*"
        assert "Vary" not in response.headers


def test_the_apps_own_cors_headers_are_replaced() -> None:
    app = text_app(headers=[("Access-Control-Allow-Origin", "*"), ("access-control-max-age", "1")])
    refused = simple("https://evil.example", app=app)
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Max-Age" not in refused.headers
    allowed = simple(app=app)
    assert allowed.headers.getall("Access-Control-Allow-Origin") == [SITE]


#: Origins allowed by a list (compared exactly, after normalising) or by a
#: pattern (which must match the whole origin).
LISTED = {"allow_origins": [SITE, "http://localhost:8000"]}
PATTERN = {"allow_origins": [], "allow_origin_regex": r"https://[a-z0-9-]+\.example\.com"}


@pytest.mark.parametrize(
    ("options", "origin", "allowed"),
    [
        pytest.param(LISTED, SITE, True, id="listed: exact"),
        pytest.param(LISTED, "HTTPS://APP.Example.com", True, id="listed: case"),
        pytest.param(LISTED, "https://app.example.com:443", True, id="listed: default port"),
        pytest.param(LISTED, "https://app.example.com.evil.net", False, id="listed: suffix trick"),
        pytest.param(LISTED, "https://evilapp.example.com", False, id="listed: prefix trick"),
        pytest.param(LISTED, "http://app.example.com", False, id="listed: other scheme"),
        pytest.param(LISTED, "https://app.example.com:8443", False, id="listed: other port"),
        pytest.param(LISTED, "https://app.example.com/", False, id="listed: trailing slash"),
        pytest.param(LISTED, "https://app.example.com.", False, id="listed: trailing dot"),
        pytest.param(LISTED, "https://user@app.example.com", False, id="listed: userinfo"),
        pytest.param(LISTED, "null", False, id="listed: null not listed"),
        pytest.param(LISTED, f"{SITE}, https://evil.example", False, id="listed: two origins"),
        pytest.param(LISTED, "", False, id="listed: empty"),
        pytest.param(PATTERN, "https://a.example.com", True, id="pattern: subdomain"),
        pytest.param(PATTERN, "https://A-1.Example.COM", True, id="pattern: normalised first"),
        pytest.param(PATTERN, "https://a.example.com.evil.net", False, id="pattern: suffix trick"),
        pytest.param(PATTERN, "https://a.example.com:8443", False, id="pattern: port"),
        pytest.param(PATTERN, "http://a.example.com", False, id="pattern: scheme"),
    ],
)
def test_only_allowed_origins_are_echoed(
    options: dict[str, Any], origin: str, allowed: bool
) -> None:
    response = simple(origin, **options)
    # An allowed origin is echoed as sent; a refused one gets no header at all
    # (never "*", "null" or a normalised spelling).
    expected = [origin] if allowed else []
    assert response.headers.getall("Access-Control-Allow-Origin") == expected


def test_configured_origins_are_normalised() -> None:
    response = simple("http://localhost:8000", allow_origins=["HTTP://LocalHost:8000"])
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
    response = simple(SITE, allow_origins=["https://app.example.com:443"])
    assert response.headers["Access-Control-Allow-Origin"] == SITE


def test_null_only_when_listed() -> None:
    assert simple("null", allow_origins=["null"]).headers["Access-Control-Allow-Origin"] == "null"
    regex = r".*"
    assert "Access-Control-Allow-Origin" not in simple("null", allow_origin_regex=regex).headers


def test_compiled_regex_is_accepted() -> None:
    pattern = re.compile(r"https://[a-z]+\.example\.com")
    assert simple(SITE, allow_origins=[], allow_origin_regex=pattern).status_int == 200
    assert (
        "Access-Control-Allow-Origin"
        in simple(SITE, allow_origins=[], allow_origin_regex=pattern).headers
    )


# --- error responses from layers inside ------------------------------------------------


def test_basic_auth_401_is_readable_by_the_page() -> None:
    users = {"alice": "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="}
    test = testapp(text_app(), partial(CORS, allow_origins=[SITE]), partial(BasicAuth, users=users))
    response = test.get("/", headers={"Origin": SITE}, status=401)
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize(
    ("app", "status"),
    [
        pytest.param(text_app(status="404 Not Found"), 404, id="404"),
        pytest.param(raising_app, 500, id="exception"),
    ],
)
def test_json_errors_inside_are_decorated(app: Any, status: int) -> None:
    test = testapp(app, partial(CORS, allow_origins=[SITE]), JSONErrors)
    response = test.get("/", headers={"Origin": SITE}, status=status, expect_errors=True)
    assert response.content_type == "application/problem+json"
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("app", APP_KINDS)
def test_every_kind_of_app_is_decorated(app: Any) -> None:
    response = simple(app=app)
    assert response.headers["Access-Control-Allow-Origin"] == SITE


def test_body_is_not_buffered_or_wrapped() -> None:
    body = [b"own"]

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    calls, _, returned = run_wsgi(CORS(app, allow_origins=[SITE]), {"HTTP_ORIGIN": SITE})
    assert returned is body
    assert ("Access-Control-Allow-Origin", SITE) in calls[0][1]


@pytest.mark.parametrize("status", ["200 OK", "204 No Content", "304 Not Modified"])
def test_bodiless_answers_and_head_get_the_same_headers_and_no_body(status: str) -> None:
    """204 and 304 (no body, no Content-Length) and HEAD: the CORS headers are
    added, nothing else changes, and HEAD's headers are GET's."""
    own = {
        "200": [("Content-Type", "text/plain"), ("Content-Length", "2")],
        "204": [("X-Request-ID", "r1")],
        "304": [("ETag", '"v1"')],
    }[status[:3]]

    def app(environ: Any, start_response: Any) -> Any:
        start_response(status, list(own))
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" or status[:3] != "200" else [b"ok"]

    test = testapp(app, partial(CORS, allow_origins=[SITE], expose_headers=["ETag"]))
    answers = {
        method: getattr(test, method)("/", headers={"Origin": SITE}, status=int(status[:3]))
        for method in ("get", "head")
    }
    for method, response in answers.items():
        assert sorted(response.headerlist) == sorted(
            [
                *own,
                ("Vary", "Origin"),
                ("Access-Control-Allow-Origin", SITE),
                ("Access-Control-Expose-Headers", "ETag"),
            ]
        ), method
        assert response.body == (b"ok" if method == "get" and status[:3] == "200" else b"")


# --- a real Flask app: preflight and the actual request --------------------------------


def test_flask_preflight_and_actual_request(flask_app: Any) -> None:
    test = testapp(
        flask_app,
        partial(
            CORS, allow_origins=[SITE], allow_methods=["GET", "PUT"], allow_headers=["X-Token"]
        ),
    )
    pre = test.options("/json", headers=preflight_headers(request_headers="x-token"))
    assert pre.status_int == 204
    assert "Allow" not in pre.headers  # Flask's automatic OPTIONS answer was not used
    assert pre.headers["Access-Control-Allow-Methods"] == "GET, PUT"
    actual = test.get("/json", headers={"Origin": SITE, "X-Token": "t"})
    assert actual.json == {"ok": True}
    assert actual.headers["Access-Control-Allow-Origin"] == SITE
    missing = test.get("/missing", headers={"Origin": SITE}, status=404)
    assert missing.headers["Access-Control-Allow-Origin"] == SITE


# --- options -------------------------------------------------------------------------


def test_max_age_none_sends_no_header() -> None:
    assert "Access-Control-Max-Age" not in preflight(max_age=None).headers


# --- parsers, fed anything ------------------------------------------------------------

_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(st.text(max_size=300))
def test_parse_origin_never_raises(value: str) -> None:
    normal = parse_origin(value)
    if normal is not None and normal != "null":
        assert normal == normal.lower() and "://" in normal and "/" not in normal.split("://")[1]


@given(
    st.sampled_from(["http", "https"]),
    st.lists(_LABEL, min_size=1, max_size=4),
    st.none() | st.integers(0, 65535),
)
def test_parse_origin_round_trips(scheme: str, labels: list[str], port: int | None) -> None:
    host = ".".join(labels)
    origin = f"{scheme}://{host}" + ("" if port is None else f":{port}")
    default = {"http": 80, "https": 443}[scheme]
    expected = f"{scheme}://{host}" if port in (None, default) else origin
    assert parse_origin(origin.upper()) == expected


# The listed origin's parts come up often, so that both verdicts are common.
_SCHEMES = st.sampled_from(["https", "https", "HTTPS", "Https", "http", "wss", ""])
_HOSTS = st.sampled_from(
    [
        "app.example.com",
        "app.example.com",
        "APP.Example.COM",
        "app.example.co",
        "xapp.example.com",
        "evil.app.example.com",
        "app.example.com.evil.net",
        "app-example.com",
        "app.examplexcom",
    ]
)
_PORTS = st.sampled_from(["", "", ":443", ":80", ":8443", ":44"])
_TAILS = st.sampled_from(["", "", "", "/", "/x", "?", "#", " x", "\x00", "@evil.net"])


@example("https", "app.example.com", "", "")  # allowed
@example("https", "APP.Example.COM", ":443", "")  # allowed: the same origin
@example("http", "app.example.com", "", "")  # refused
@given(_SCHEMES, _HOSTS, _PORTS, _TAILS)
def test_only_the_listed_origin_is_allowed(scheme: str, host: str, port: str, tail: str) -> None:
    """Near misses of the listed origin are refused, its spellings allowed."""
    layer = CORS(text_app(), allow_origins=[SITE])
    origin = f"{scheme}://{host}{port}{tail}"
    same = (
        scheme.lower() == "https"
        and host.lower() == "app.example.com"
        and port in ("", ":443")
        and tail == ""
    )
    event("allowed" if same else "refused")
    assert (layer.allowed_origin(origin) is not None) == same


@given(st.text(max_size=200))
def test_parse_header_names_never_raises(value: str) -> None:
    names = parse_header_names(value)
    if names is not None:
        assert all(
            name == name.lower() and "," not in name and name.strip() == name for name in names
        )


@given(st.text(max_size=100), st.text(max_size=40), st.text(max_size=100))
def test_preflight_never_fails_on_any_input(origin: str, method: str, headers: str) -> None:
    def wsgi(text: str) -> str:
        return text.encode("utf-8", "surrogatepass").decode("latin-1")

    environ = {
        "REQUEST_METHOD": "OPTIONS",
        "HTTP_ORIGIN": wsgi(origin),
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": wsgi(method),
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": wsgi(headers),
    }
    calls, _, _ = run_wsgi(CORS(never_called, allow_origins=[SITE], allow_headers=["*"]), environ)
    status, sent = calls[0]
    assert status[:3] in ("204", "403")
    for _, value in sent:
        assert value.isprintable()


# --- through a real server --------------------------------------------------------------


def test_edge_layers_through_a_real_server(serve: Any) -> None:
    server = serve("e2e_edge_apps:app")
    request = urllib.request.Request(
        server.url + "/items",
        method="OPTIONS",
        headers=preflight_headers(),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Methods"] == "PUT"
    actual = server.get("/items", {"Origin": SITE})
    assert actual.status == 200 and json.loads(actual.read()) == {"items": [1, 2]}
    assert actual.headers["Access-Control-Allow-Origin"] == SITE
    assert actual.headers["X-Content-Type-Options"] == "nosniff"
    refused = server.get("/items", {"Origin": SITE, "Host": "evil.example"})
    assert refused.status == 400
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.headers["Access-Control-Allow-Origin"] == SITE


@pytest.mark.parametrize("origins", [["*"], [SITE]])
def test_many_distinct_origins_keep_the_cache_bounded_and_answers_right(
    origins: list[str],
) -> None:
    middleware = CORS(text_app(), allow_origins=origins, allow_origin_regex=None)
    for number in range(1200):
        origin = f"https://site{number}.example" if number % 2 else SITE
        calls, _, _ = run_wsgi(middleware, {"HTTP_ORIGIN": origin})
        headers = dict(calls[-1][1])
        expected = "*" if origins == ["*"] else (SITE if origin == SITE else None)
        assert headers.get("Access-Control-Allow-Origin") == expected, origin
    assert len(middleware._verdicts) <= 512
    calls, _, _ = run_wsgi(middleware)  # no Origin, after the cache was emptied
    assert dict(calls[-1][1]).get("Vary") == (None if origins == ["*"] else "Origin")


# --- review fixes -------------------------------------------------------------------


def test_refusal_log_line_escapes_quotes_and_non_ascii(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wsgikit.cors")
    preflight('https://evil.example"\xe9', method="P\xe9UT" + "T" * 300, status=403)
    (record,) = [r for r in caplog.records if r.name == "wsgikit.cors"]
    message = record.getMessage()
    assert 'origin "https://evil.example\\"\\xe9" for "P\\xe9UT' in message
    assert "\xe9" not in message and len(message) < 300


# --- header names remembered per spelling (#11) ---------------------------------


@pytest.mark.parametrize("origin", [None, SITE])
def test_vary_and_cors_headers_are_recognised_after_many_distinct_names(
    origin: str | None,
) -> None:
    """CORS remembers which response header-name spellings are Vary or
    Access-Control-* (bounded); past the bound, a new spelling is still judged."""
    spellings = ["VARY", "vary", "ACCESS-CONTROL-ALLOW-ORIGIN", "Access-Control-Max-Age"]
    names = [f"X-Custom-{number}" for number in range(700)] + spellings

    def app(environ: Any, start_response: Any) -> Any:
        name = environ["PATH_INFO"][1:]
        start_response("200 OK", [("Content-Type", "text/plain"), (name, "Accept")])
        return [b"x"]

    middleware = CORS(app, allow_origins=[SITE])
    environ = {} if origin is None else {"HTTP_ORIGIN": origin}
    for name in names:
        calls, _, _ = run_wsgi(middleware, {**environ, "PATH_INFO": f"/{name}"})
        headers = [(key.lower(), value) for key, value in calls[-1][1]]
        varies = [value for key, value in headers if key == "vary"]
        allowed = [value for key, value in headers if key == "access-control-allow-origin"]
        assert varies == (["Accept, Origin"] if name.lower() == "vary" else ["Origin"]), name
        assert allowed == ([] if origin is None else [SITE]), name
        assert ("access-control-max-age", "Accept") not in headers, name
