"""TrustedHosts: host patterns, the Host parser, refusals and the www redirect."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import pytest
from helpers import echo_environ_app, make_environ, run_wsgi, testapp, text_app
from hypothesis import event, example, given
from hypothesis import strategies as st

from wsgikit import JSONErrors, ProxyFix, TrustedHosts
from wsgikit._host import parse_host, request_url

HOSTS = ["example.com", "*.example.com", "api.example.org:8443", "127.0.0.1", "[::1]:8000"]


def status_for(host: str, scheme: str = "http", hosts: list[str] = HOSTS) -> int:
    app = testapp(text_app(), partial(TrustedHosts, hosts=hosts))
    response = app.get(
        "/", extra_environ={"HTTP_HOST": host, "wsgi.url_scheme": scheme}, expect_errors=True
    )
    return int(response.status_int)


@pytest.mark.parametrize(
    ("host", "scheme", "status"),
    [
        pytest.param("example.com", "http", 200, id="allowed: exact"),
        pytest.param("EXAMPLE.com", "http", 200, id="allowed: case-insensitive"),
        pytest.param("example.com.", "http", 200, id="allowed: trailing dot"),
        pytest.param("example.com:8080", "http", 200, id="allowed: port not in the pattern"),
        pytest.param("www.example.com", "http", 200, id="allowed: wildcard subdomain"),
        pytest.param("a.b.example.com", "https", 200, id="allowed: wildcard any depth"),
        pytest.param("api.example.org:8443", "http", 200, id="allowed: port matched"),
        pytest.param("127.0.0.1:5000", "http", 200, id="allowed: IPv4"),
        pytest.param("[::1]:8000", "http", 200, id="allowed: IPv6 with its port"),
        pytest.param("[0:0::1]:8000", "http", 200, id="allowed: IPv6 in another spelling"),
        # Near misses and malformed hosts.
        pytest.param("example.com.evil.net", "http", 400, id="refused: suffix trick"),
        pytest.param("evilexample.com", "http", 400, id="refused: no dot before wildcard domain"),
        pytest.param("example.org", "http", 400, id="refused: other domain"),
        pytest.param("api.example.org", "http", 400, id="refused: default port 80 is not 8443"),
        pytest.param("api.example.org:443", "https", 400, id="refused: other port"),
        pytest.param("[::1]", "http", 400, id="refused: IPv6 on the default port"),
        pytest.param("[::1]:8001", "http", 400, id="refused: IPv6 on another port"),
        pytest.param("::1", "http", 400, id="refused: bare IPv6"),
        pytest.param("example.com/evil", "http", 400, id="refused: path"),
        pytest.param("user@example.com", "http", 400, id="refused: userinfo"),
        pytest.param("example.com:99999", "http", 400, id="refused: port too large"),
        pytest.param("example.com:８０", "http", 400, id="refused: non-ASCII digits"),
        pytest.param("exämple.com", "http", 400, id="refused: non-ASCII"),
        pytest.param("example..com", "http", 400, id="refused: empty label"),
        pytest.param("-example.com", "http", 400, id="refused: leading hyphen"),
    ],
)
def test_host_against_the_patterns(host: str, scheme: str, status: int) -> None:
    """Listed hosts pass (200), every other host is refused (400), against HOSTS."""
    assert status_for(host, scheme) == status


def test_default_port_of_the_scheme_matches_a_pattern_port() -> None:
    hosts = ["secure.example:443"]
    assert status_for("secure.example", "https", hosts) == 200
    assert status_for("secure.example", "http", hosts) == 400


def test_wildcard_does_not_match_the_bare_domain() -> None:
    assert status_for("example.net", hosts=["*.example.net"]) == 400
    assert status_for("x.example.net", hosts=["*.example.net"]) == 200


def test_star_accepts_any_well_formed_host_only() -> None:
    assert status_for("anything.test:81", hosts=["*"]) == 200
    assert status_for("bad host", hosts=["*"]) == 400


def test_internationalised_pattern_matches_its_punycode() -> None:
    assert status_for("xn--bcher-kva.example", hosts=["bücher.example"]) == 200


def test_server_name_is_used_without_a_host_header() -> None:
    calls, _, _ = run_wsgi(
        TrustedHosts(text_app(), ["internal.example:8080"]),
        {"SERVER_NAME": "internal.example", "SERVER_PORT": "8080", "HTTP_HOST": ""},
    )
    assert calls[0][0] == "200 OK"
    calls, _, _ = run_wsgi(
        TrustedHosts(text_app(), ["internal.example:8080"]),
        {"SERVER_NAME": "other.example", "SERVER_PORT": "8080", "HTTP_HOST": ""},
    )
    assert calls[0][0].startswith("400")


def test_forwarded_host_is_checked_after_proxyfix() -> None:
    app = testapp(
        echo_environ_app,
        partial(ProxyFix, x_host=1),
        partial(TrustedHosts, hosts=["shop.example"]),
    )
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "shop.example"}
    assert app.get("/", headers=headers, extra_environ={"HTTP_HOST": "10.0.0.2"}).status_int == 200
    headers["X-Forwarded-Host"] = "evil.example"
    app.get("/", headers=headers, extra_environ={"HTTP_HOST": "shop.example"}, status=400)


def test_refusal_is_plain_text_and_logged_escaped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wsgikit.hosts")
    app = testapp(text_app(), partial(TrustedHosts, hosts=["example.com"]))
    host = "evil.example\r\nInjected: yes" + "x" * 500
    response = app.get("/", extra_environ={"HTTP_HOST": host}, status=400)
    assert response.content_type == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    assert "does not serve" in response.text and "evil" not in response.text
    (record,) = [r for r in caplog.records if r.name == "wsgikit.hosts"]
    message = record.getMessage()
    assert "\\r\\n" in message and "\r" not in message and "\n" not in message
    assert len(message) < 250


def test_refusal_becomes_problem_json_through_json_errors() -> None:
    app = testapp(text_app(), JSONErrors, partial(TrustedHosts, hosts=["example.com"]))
    response = app.get("/", extra_environ={"HTTP_HOST": "evil.example"}, status=400)
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 400 and response.json["title"] == "Bad Request"


def test_head_refusal_has_no_body() -> None:
    app = testapp(text_app(), partial(TrustedHosts, hosts=["example.com"]))
    response = app.head("/", extra_environ={"HTTP_HOST": "evil.example"}, status=400)
    assert response.body == b""


def test_allowed_request_gets_the_apps_own_iterable() -> None:
    body = [b"own"]

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    _, _, returned = run_wsgi(TrustedHosts(app, ["localhost"]))
    assert returned is body


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_www_redirect_keeps_method_path_and_query(method: str) -> None:
    app = testapp(text_app(), partial(TrustedHosts, hosts=["www.example.com"], www_redirect=True))
    response = app.request(
        "/a%20b/c?q=1&r=%2F",
        method=method,
        environ={"HTTP_HOST": "example.com:8080", "wsgi.url_scheme": "https"},
        status=308,
    )
    assert response.headers["Location"] == "https://www.example.com:8080/a%20b/c?q=1&r=%2F"


def test_www_redirect_only_towards_an_exact_www_pattern() -> None:
    assert status_for("example.com", hosts=["*.example.com"]) == 400
    app = testapp(text_app(), partial(TrustedHosts, hosts=["*.example.com"], www_redirect=True))
    app.get("/", extra_environ={"HTTP_HOST": "example.com"}, status=400)
    off = testapp(text_app(), partial(TrustedHosts, hosts=["www.example.com"]))
    off.get("/", extra_environ={"HTTP_HOST": "example.com"}, status=400)


def test_with_a_real_framework_app(framework_app: Any) -> None:
    app = testapp(framework_app, partial(TrustedHosts, hosts=["example.com"]))
    assert "127.0.0.1" not in app.get("/env", extra_environ={"HTTP_HOST": "example.com"}).text
    app.get("/env", extra_environ={"HTTP_HOST": "127.0.0.1"}, status=400)


def test_bare_ipv6_pattern_is_accepted() -> None:
    assert status_for("[::1]:1234", hosts=["::1"]) == 200


# --- the Host parser, fed anything ---------------------------------------------------

_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9_-]{0,20}[a-z0-9])?", fullmatch=True)


@given(st.text(max_size=400))
def test_parse_host_never_raises(value: str) -> None:
    parsed = parse_host(value)
    if parsed is not None:
        host, port = parsed
        assert host == host.lower() and host.isascii()
        assert port is None or 0 <= port <= 65535


@given(st.lists(_LABEL, min_size=1, max_size=5), st.none() | st.integers(0, 65535))
def test_parse_host_round_trips_names(labels: list[str], port: int | None) -> None:
    name = ".".join(labels)
    value = name.upper() if port is None else f"{name}:{port}"
    assert parse_host(value) == (name, port)


@given(st.ip_addresses(v=6), st.none() | st.integers(0, 65535))
def test_parse_host_round_trips_ipv6(address: Any, port: int | None) -> None:
    value = f"[{address.exploded}]" + ("" if port is None else f":{port}")
    assert parse_host(value) == (f"[{address.compressed}]", port)


_BASES = st.sampled_from(
    ["example.com", "EXAMPLE.Com", "example.co", "examplexcom", "example.com.evil.net"]
)


@example([], ".", "example.com", "")  # the bare domain: refused
@example(["a"], ".", "example.com", "")  # a true subdomain: allowed
@example(["a", "b"], ".", "EXAMPLE.Com", ":8080")  # allowed, any port
@example(["evil"], "", "example.com", "")  # evilexample.com: refused
@given(
    st.lists(_LABEL, max_size=3),
    st.sampled_from([".", "", "-", "_", ".."]),
    _BASES,
    st.sampled_from(["", ":80", ":8080"]),
)
def test_only_true_subdomains_match_a_wildcard(
    labels: list[str], separator: str, base: str, port: str
) -> None:
    """Near misses of ``*.example.com`` are refused, true subdomains allowed."""
    guard = TrustedHosts(text_app(), ["*.example.com"])
    host = ".".join(labels) + separator + base + port
    subdomain = bool(labels) and separator == "." and base.lower() == "example.com"
    event("allowed" if subdomain else "refused")
    assert guard.allows(host) == subdomain


@given(st.text(max_size=200))
def test_trusted_hosts_never_fails_on_any_host(host: str) -> None:
    environ = make_environ(HTTP_HOST=host.encode("utf-8", "surrogatepass").decode("latin-1"))
    calls, _, _ = run_wsgi(TrustedHosts(text_app(), ["example.com"]), environ)
    assert calls[0][0][:3] in ("200", "400")


@given(st.text(max_size=80), st.text(max_size=80))
def test_request_url_is_a_safe_header_value(path: str, query: str) -> None:
    to_wsgi = partial(str.encode, encoding="utf-8", errors="surrogatepass")
    url = request_url(
        {
            "PATH_INFO": to_wsgi(path).decode("latin-1"),
            "QUERY_STRING": to_wsgi(query).decode("latin-1"),
        },
        "https",
        "example.com",
    )
    assert url.isascii() and url.isprintable() and " " not in url
    assert url.startswith("https://example.com/")


# --- review fixes -------------------------------------------------------------------


def test_refused_host_is_logged_with_quotes_and_non_ascii_escaped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Escaped as access logs are (no repr): a quote cannot end the field and
    a non-ASCII byte is written as ``\\xhh``."""
    caplog.set_level(logging.INFO, logger="wsgikit.hosts")
    app = testapp(text_app(), partial(TrustedHosts, hosts=["example.com"]))
    app.get("/", extra_environ={"HTTP_HOST": 'evil.example" from 10.0.0.1\xe9'}, status=400)
    (record,) = [r for r in caplog.records if r.name == "wsgikit.hosts"]
    message = record.getMessage()
    assert 'host "evil.example\\" from 10.0.0.1\\xe9" from ' in message
    assert "\xe9" not in message
