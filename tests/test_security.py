"""SecurityHeaders: defaults, the app's own headers win, HSTS over https only,
the https redirect, and option validation."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import pytest
from helpers import APP_KINDS, run_wsgi, testapp, text_app
from hypothesis import given
from hypothesis import strategies as st

from wsgikit import JSONErrors, ProxyFix, SecurityHeaders, TrustedHosts

DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def headers_of(app: Any, scheme: str = "http", **options: Any) -> Any:
    """The response headers (case-insensitive) of a GET through SecurityHeaders."""
    test = testapp(app, partial(SecurityHeaders, **options))
    response = test.get("/", extra_environ={"wsgi.url_scheme": scheme}, expect_errors=True)
    return response.headers


def test_defaults_over_http_have_no_hsts() -> None:
    headers = headers_of(text_app())
    for name, value in DEFAULTS.items():
        assert headers[name] == value
    assert "Strict-Transport-Security" not in headers
    assert "Content-Security-Policy" not in headers


def test_hsts_only_over_https() -> None:
    assert headers_of(text_app(), "https")["Strict-Transport-Security"] == HSTS


def test_hsts_follows_the_scheme_proxyfix_decided() -> None:
    app = testapp(text_app(), partial(ProxyFix, x_proto=1), SecurityHeaders)
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    assert app.get("/", headers=forwarded).headers["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in app.get("/").headers


def test_the_apps_own_headers_win() -> None:
    own = [
        ("x-frame-options", "SAMEORIGIN"),
        ("Content-Security-Policy", "default-src *"),
        ("Strict-Transport-Security", "max-age=60"),
    ]
    headers = headers_of(text_app(headers=own), "https", csp="default-src 'self'")
    assert headers.getall("X-Frame-Options") == ["SAMEORIGIN"]
    assert headers.getall("Content-Security-Policy") == ["default-src *"]
    assert headers["Strict-Transport-Security"] == "max-age=60"
    assert headers["Referrer-Policy"] == DEFAULTS["Referrer-Policy"]


def test_optional_headers() -> None:
    headers = headers_of(
        text_app(),
        csp="default-src 'self'",
        permissions_policy="geolocation=(), camera=()",
        coop="Same-Origin",
        frame_options="sameorigin",
        referrer_policy="no-referrer, strict-origin",
    )
    assert headers["Content-Security-Policy"] == "default-src 'self'"
    assert headers["Permissions-Policy"] == "geolocation=(), camera=()"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["Referrer-Policy"] == "no-referrer, strict-origin"


@pytest.mark.parametrize("off", [None, False])
def test_every_header_can_be_switched_off(off: Any) -> None:
    body = [b"untouched"]

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    layer = SecurityHeaders(
        app, hsts=off, content_type_options=off, frame_options=off, referrer_policy=off
    )
    calls, _, returned = run_wsgi(layer, {"wsgi.url_scheme": "https"})
    assert calls == [("200 OK", [("Content-Type", "text/plain")])]
    assert returned is body


def test_error_responses_get_headers_too() -> None:
    app = testapp(text_app(status="404 Not Found"), SecurityHeaders, JSONErrors)
    response = app.get("/", status=404)
    assert response.content_type == "application/problem+json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("app", APP_KINDS)
def test_every_kind_of_app(app: Any) -> None:
    response = testapp(app, SecurityHeaders).get("/", expect_errors=True)
    assert response.headers["X-Frame-Options"] == "DENY"


def test_with_a_real_framework_app(framework_app: Any) -> None:
    app = testapp(framework_app, SecurityHeaders)
    assert app.get("/").headers["X-Content-Type-Options"] == "nosniff"
    assert app.get("/missing", status=404).headers["X-Frame-Options"] == "DENY"


# --- https redirect -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"])
def test_plain_http_is_redirected_with_308_for_any_method(method: str) -> None:
    app = testapp(text_app(), partial(SecurityHeaders, https_redirect=True))
    response = app.request(
        "/shop/caf%C3%A9?q=a%20b&x=1",
        method=method,
        environ={"HTTP_HOST": "example.com"},
        status=308,
    )
    assert response.headers["Location"] == "https://example.com/shop/caf%C3%A9?q=a%20b&x=1"
    assert "Strict-Transport-Security" not in response.headers
    assert (response.body == b"") == (method == "HEAD")


@pytest.mark.parametrize(
    ("host", "location"),
    [
        pytest.param("example.com:80", "https://example.com/", id="port 80 dropped"),
        pytest.param("example.com:8080", "https://example.com:8080/", id="other port kept"),
        pytest.param("[::1]:80", "https://[::1]/", id="IPv6"),
        pytest.param("EXAMPLE.com.", "https://example.com/", id="normalised"),
    ],
)
def test_redirect_host(host: str, location: str) -> None:
    app = testapp(text_app(), partial(SecurityHeaders, https_redirect=True))
    response = app.get("/", extra_environ={"HTTP_HOST": host}, status=308)
    assert response.headers["Location"] == location


def test_https_requests_are_not_redirected() -> None:
    app = testapp(text_app(), partial(SecurityHeaders, https_redirect=True))
    response = app.get("/", extra_environ={"wsgi.url_scheme": "https"})
    assert response.status_int == 200 and response.headers["Strict-Transport-Security"] == HSTS


@pytest.mark.parametrize(
    "host", ["evil.example/x", "user@evil.example", "evil.example\r\nSet-Cookie: a=b", "a b"]
)
def test_no_redirect_to_a_bad_host(host: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wsgikit.security")
    app = testapp(text_app(), partial(SecurityHeaders, https_redirect=True))
    response = app.get("/", extra_environ={"HTTP_HOST": host}, status=400)
    assert "Location" not in response.headers
    (record,) = [r for r in caplog.records if r.name == "wsgikit.security"]
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()


def test_trusted_hosts_outside_limits_redirects_to_listed_hosts() -> None:
    app = testapp(
        text_app(),
        partial(TrustedHosts, hosts=["example.com"]),
        partial(SecurityHeaders, https_redirect=True),
    )
    app.get("/", extra_environ={"HTTP_HOST": "example.com"}, status=308)
    app.get("/", extra_environ={"HTTP_HOST": "evil.example"}, status=400)


@given(st.text(max_size=100), st.text(max_size=100))
def test_redirect_never_fails_and_location_is_safe(host: str, path: str) -> None:
    environ = {
        "HTTP_HOST": host.encode("utf-8", "surrogatepass").decode("latin-1"),
        "PATH_INFO": "/" + path.encode("utf-8", "surrogatepass").decode("latin-1"),
    }
    calls, _, _ = run_wsgi(SecurityHeaders(text_app(), https_redirect=True), environ)
    status, headers = calls[0]
    assert status[:3] in ("308", "400")
    for _, value in headers:
        assert value.isascii() and value.isprintable()


# --- options ------------------------------------------------------------------------


def test_app_that_set_every_header_is_sent_unchanged() -> None:
    own = [("Content-Type", "text/plain"), *((name.lower(), "own") for name in DEFAULTS)]

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", list(own))
        return [b"x"]

    calls, _, _ = run_wsgi(SecurityHeaders(app))
    assert calls == [("200 OK", own)]


# --- review fixes -------------------------------------------------------------------


def test_invalid_host_log_line_escapes_quotes_and_non_ascii(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wsgikit.security")
    app = testapp(text_app(), partial(SecurityHeaders, https_redirect=True))
    app.get("/", extra_environ={"HTTP_HOST": 'a b"\xe9' + "x" * 500}, status=400)
    (record,) = [r for r in caplog.records if r.name == "wsgikit.security"]
    message = record.getMessage()
    assert 'invalid host "a b\\"\\xe9xxx' in message
    assert "\xe9" not in message and len(message) < 300


# --- header names remembered per spelling (#11) ---------------------------------


def test_names_are_judged_in_any_spelling_after_many_distinct_names() -> None:
    """SecurityHeaders remembers the header-name spellings it has seen (bounded);
    past the bound, a new spelling of one of its headers is still recognised."""
    spellings = ["X-FRAME-OPTIONS", "x-Frame-options", "X-Frame-Options"]
    names = [f"X-Custom-{number}" for number in range(700)] + spellings

    def app(environ: Any, start_response: Any) -> Any:
        name = environ["PATH_INFO"][1:]
        start_response("200 OK", [("Content-Type", "text/plain"), (name, "own")])
        return [b"x"]

    layer = SecurityHeaders(app)
    for name in names:
        calls, _, _ = run_wsgi(layer, {"PATH_INFO": f"/{name}"})
        ((_, headers),) = calls
        sent = [(key.lower(), value) for key, value in headers]
        own = "own" if name in spellings else "DENY"
        assert sent.count(("x-frame-options", own)) == 1, name
        assert len([key for key, _ in sent if key == "x-frame-options"]) == 1, name
        assert ("x-content-type-options", "nosniff") in sent
