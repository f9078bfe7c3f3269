"""HTTPProxy and ``wsgikit proxy``: forwarding to real upstream processes.

The raw upstream (``e2e_http_proxy_upstream.py``) shows requests exactly as they
arrived and answers with any header; the Flask upstreams run on waitress and
gunicorn behind wsgikit's and werkzeug's ProxyFix. The proxy itself is driven
in-process under ``wsgiref.validate`` (WebTest's lint) or as ``wsgikit proxy``.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.types import WSGIApplication
from wsgiref.validate import validator

import pytest
from helpers import TESTS_DIR, free_port, make_environ, run_wsgi, testapp
from hypothesis import given
from hypothesis import strategies as st

from wsgikit import FakeForwardedFor, HTTPProxy, JSONErrors
from wsgikit.http_proxy import HOP_BY_HOP

# --- helpers ----------------------------------------------------------------------


def echo(response: Any) -> dict[str, Any]:
    """The raw upstream's JSON description of the request it got."""
    seen: dict[str, Any] = json.loads(response.body)
    seen["names"] = [name.lower() for name, _ in seen["headers"]]
    return seen


def reply(*headers: tuple[str, str], status: str = "200 OK") -> dict[str, str]:
    """Request headers asking the raw upstream to answer with ``headers``."""
    return {"X-Reply-Headers": json.dumps(headers), "X-Reply-Status": status}


def fetch(
    url: str, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request without following redirects: (status, headers, body)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def start(app: WSGIApplication, environ: dict[str, Any]) -> tuple[list[Any], Any]:
    """Call ``app`` under ``wsgiref.validate`` as a server would; the caller iterates."""
    calls: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        calls.append((status, headers))
        return lambda data: None

    return calls, validator(app)(make_environ(**environ), start_response)


def wait_for(path: Path, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return path.exists()


# --- options --------------------------------------------------------------------


def test_importable_from_the_package() -> None:
    proxy = HTTPProxy("https://example.test:8443/api/", timeout=2, pool_size=3)
    assert proxy.timeout == 2.0
    assert proxy.pool.port == 8443
    assert proxy.pool.scheme == "https"
    assert repr(proxy) == "HTTPProxy('https://example.test:8443/api/')"


# --- forwarding -------------------------------------------------------------------


def test_forwards_method_path_query_and_body(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    app = testapp(HTTPProxy(url + "/api/"))
    seen = echo(app.post("/echo/a%20b/", params=b"x" * 100_000, content_type="text/plain"))
    assert seen["method"] == "POST"
    assert seen["target"] == "/api/echo/a%20b/"
    assert seen["body_size"] == 100_000
    assert not seen["chunked"]
    headers = dict(seen["headers"])
    assert headers["Content-Type"] == "text/plain"
    assert headers["Content-Length"] == "100000"
    seen = echo(app.get("/echo", params={"q": "1 2"}))
    assert seen["target"] == "/api/echo?q=1+2"


@pytest.mark.parametrize(
    ("path", "query", "target"),
    [
        pytest.param("/a b/ü", "", "/a%20b/%FC", id="latin-1 path"),
        pytest.param("/€", "", "/%E2%82%AC", id="path beyond latin-1"),
        pytest.param("/q", "a=1 2&b=\x7f&c=é", "/q?a=1%202&b=%7F&c=%E9", id="raw query"),
        pytest.param("/q", "a=%20&b=/?", "/q?a=%20&b=/?", id="encoded query kept"),
    ],
)
def test_the_request_target_is_always_sendable(
    raw_upstream: tuple[str, Path], path: str, query: str, target: str
) -> None:
    """Not under the validator: PEP 3333 allows these strings, servers rarely send them."""
    url, _ = raw_upstream
    calls, body, _ = run_wsgi(HTTPProxy(url), {"PATH_INFO": path, "QUERY_STRING": query})
    assert json.loads(b"".join(body))["target"] == target


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"HTTP_X_BAD": "a\nb"}, id="bare line feed"),
        pytest.param({"HTTP_X_BAD": "€"}, id="beyond latin-1"),
    ],
)
def test_a_header_that_cannot_be_sent_is_a_400(
    raw_upstream: tuple[str, Path], header: dict[str, str]
) -> None:
    url, _ = raw_upstream
    calls, body, _ = run_wsgi(HTTPProxy(url), {"PATH_INFO": "/echo", **header})
    assert calls[0][0] == "400 Bad Request"


def test_adds_no_headers_of_its_own(raw_upstream: tuple[str, Path]) -> None:
    """Not even urllib3's User-Agent or Accept-Encoding: the upstream sees the client."""
    url, _ = raw_upstream
    status, _, body = fetch(url, "/echo")
    direct = {name.lower() for name, _ in json.loads(body)["headers"]}
    seen = echo(testapp(HTTPProxy(url)).get("/echo", headers={"User-Agent": "me/1"}))
    assert set(seen["names"]) == {"host", "user-agent"}
    assert dict(seen["headers"])["User-Agent"] == "me/1"
    assert "accept-encoding" in direct  # http.client adds it: the check above can fail


def test_host_is_the_upstreams_unless_preserve_host(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    netloc = url.removeprefix("http://")
    seen = echo(testapp(HTTPProxy(url)).get("/echo", headers={"Host": "shop.example"}))
    assert dict(seen["headers"])["Host"] == netloc
    kept = HTTPProxy(url, preserve_host=True)
    seen = echo(testapp(kept).get("/echo", headers={"Host": "shop.example"}))
    assert dict(seen["headers"])["Host"] == "shop.example"


def test_forwarded_headers_pass_as_they_are(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    sent = {"X-Forwarded-For": "198.51.100.1, 10.0.0.1", "Forwarded": "for=198.51.100.1"}
    seen = echo(testapp(HTTPProxy(url)).get("/echo", headers=sent))
    assert dict(seen["headers"])["X-Forwarded-For"] == sent["X-Forwarded-For"]
    assert dict(seen["headers"])["Forwarded"] == sent["Forwarded"]
    faked = testapp(HTTPProxy(url), lambda app: FakeForwardedFor(app, real_ip="203.0.113.7"))
    assert dict(echo(faked.get("/echo"))["headers"])["X-Forwarded-For"] == (
        "203.0.113.7, 10.3.4.5, 127.0.0.1"
    )


def test_keep_alive_connections_are_reused(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    proxy = HTTPProxy(url)
    app = testapp(proxy)
    first, second = (echo(app.get("/echo"))["connection"] for _ in range(2))
    assert first == second
    assert proxy.pool.num_connections == 1


def test_redirects_are_passed_on_not_followed(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    app = testapp(HTTPProxy(url))
    response = app.get("/echo", headers=reply(("Location", "/elsewhere"), status="302 Found"))
    assert response.status == "302 Found"
    assert response.headers["Location"] == "/elsewhere"


def test_head_and_no_body_statuses(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    app = testapp(HTTPProxy(url))
    head = app.head("/echo")
    assert head.status_int == 200
    assert head.body == b""
    assert int(head.headers["Content-Length"]) > 0
    for status in ("204 No Content", "304 Not Modified"):
        response = app.get("/echo", headers=reply(status=status), status=int(status[:3]))
        assert response.body == b""
        assert "Content-Type" not in response.headers


def test_a_chunked_upload_is_sent_chunked(raw_upstream: tuple[str, Path]) -> None:
    """Without Content-Length (a chunked upload the server terminates), the
    body goes on chunked; a request without a body gets no chunked framing."""
    url, _ = raw_upstream
    proxy = HTTPProxy(url)
    calls, result = start(
        proxy,
        {
            "REQUEST_METHOD": "PUT",
            "PATH_INFO": "/echo",
            "wsgi.input": io.BytesIO(b"y" * 200_000),
            "wsgi.input_terminated": True,
        },
    )
    seen = json.loads(b"".join(result))
    result.close()
    assert (seen["chunked"], seen["body_size"]) == (True, 200_000)
    calls, result = start(proxy, {"PATH_INFO": "/echo", "wsgi.input_terminated": True})
    seen = json.loads(b"".join(result))
    result.close()
    assert (seen["chunked"], seen["body_size"]) == (False, 0)


def test_invalid_content_length_is_a_400(raw_upstream: tuple[str, Path]) -> None:
    """Called without the validator, which refuses such an environ itself."""
    url, _ = raw_upstream
    environ = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "12x"}
    calls, body, _ = run_wsgi(HTTPProxy(url), environ)
    assert calls[0][0] == "400 Bad Request"
    assert b"".join(body).startswith(b"400 Bad Request")


# --- hop-by-hop headers (property) ------------------------------------------------

_TOKENS = st.from_regex(r"\AX(-[A-Za-z0-9]{1,6}){1,3}\Z")
_HOP = st.sampled_from(sorted(HOP_BY_HOP - {"transfer-encoding", "connection"}))


@given(
    hop=st.lists(_HOP, max_size=4, unique=True),
    named=st.lists(_TOKENS, max_size=4, unique_by=str.lower),
    kept=st.lists(_TOKENS, max_size=4, unique_by=str.lower),
    case=st.sampled_from([str.lower, str.upper, str.title]),
    spaces=st.sampled_from([",", ", ", " ,  ", ",,"]),
)
def test_hop_by_hop_headers_never_cross(
    raw_upstream: tuple[str, Path],
    hop: list[str],
    named: list[str],
    kept: list[str],
    case: Any,
    spaces: str,
) -> None:
    """Hop-by-hop headers and every header the ``Connection`` header names are
    removed in both directions; the others arrive."""
    url, _ = raw_upstream
    kept = [name for name in kept if name.lower() not in {n.lower() for n in named}]
    connection = spaces.join(case(name) for name in [*named, "keep-alive"])
    sent = {name: "v" for name in [*hop, *named, *kept]}
    # Upgrade/TE values an upstream would act on are harmless to this echo.
    environ = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in sent.items()} | {
        "HTTP_CONNECTION": connection,
        "PATH_INFO": "/echo",
    }
    answer = [(name, "v") for name in [*hop, *named, *kept]] + [("Connection", connection)]
    environ["HTTP_X_REPLY_HEADERS"] = json.dumps(answer)
    calls, result = start(HTTPProxy(url), environ)
    seen = json.loads(b"".join(result))
    result.close()
    arrived = {name.lower() for name, _ in seen["headers"]}
    returned = {name.lower() for name, _ in calls[0][1]}
    for names in (arrived, returned):
        assert not names & (HOP_BY_HOP | {name.lower() for name in named})
        assert {name.lower() for name in kept} <= names


# --- URL and cookie rewriting -------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "script_name", "sent", "expected"),
    [
        pytest.param("/api", "", "{up}/api/next?q=1#f", "http://client.test/next?q=1#f", id="abs"),
        pytest.param("/api", "/m", "{up}/api", "http://client.test/m", id="prefix itself"),
        pytest.param("/api", "", "/api/next", "/next", id="path only"),
        pytest.param("/api", "", "/apix/next", "/apix/next", id="other path"),
        pytest.param("/api", "", "next", "next", id="relative"),
        pytest.param("/api", "", "//cdn.test/api/x", "//cdn.test/api/x", id="scheme relative"),
        pytest.param("", "/m", "/next", "/m/next", id="root upstream, mounted proxy"),
        pytest.param("", "", "{up}/next", "http://client.test/next", id="root upstream"),
        pytest.param(
            "/api", "", "https://other.test/api/x", "https://other.test/api/x", id="other"
        ),
        pytest.param("/api", "", "http://[::1", "http://[::1", id="broken URL"),
    ],
)
def test_location_is_rewritten_to_the_clients_view(
    raw_upstream: tuple[str, Path], prefix: str, script_name: str, sent: str, expected: str
) -> None:
    url, _ = raw_upstream
    app = testapp(HTTPProxy(url + prefix), extra_environ={"SCRIPT_NAME": script_name})
    sent = sent.format(up=url)
    response = app.get(
        "/echo",
        headers={"Host": "client.test", **reply(("Location", sent), ("Content-Location", sent))},
    )
    assert response.headers["Location"] == expected
    assert response.headers["Content-Location"] == expected
    unchanged = testapp(HTTPProxy(url + prefix, rewrite_location=False))
    response = unchanged.get("/echo", headers=reply(("Location", sent)))
    assert response.headers["Location"] == sent


def test_location_with_preserved_host_is_rewritten(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    app = testapp(HTTPProxy(url + "/api", preserve_host=True))
    sent = reply(("Location", "http://client.test:8080/api/x"))
    response = app.get("/echo", headers={"Host": "client.test:8080", **sent})
    assert response.headers["Location"] == "http://client.test:8080/x"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        pytest.param("a=1; Path=/api/x; HttpOnly", "a=1; Path=/m/x; HttpOnly", id="path"),
        pytest.param("a=1; path=/api", "a=1; Path=/m", id="prefix path"),
        pytest.param("a=1; Path=/other", "a=1; Path=/other", id="other path"),
        pytest.param("a=1; Domain=127.0.0.1; Secure", "a=1; Secure", id="upstream domain"),
        pytest.param("a=1; Domain=.example.com", "a=1; Domain=.example.com", id="other domain"),
        pytest.param("a=1", "a=1", id="no attributes"),
    ],
)
def test_set_cookie_is_rewritten_to_the_clients_view(
    raw_upstream: tuple[str, Path], sent: str, expected: str
) -> None:
    url, _ = raw_upstream
    app = testapp(HTTPProxy(url + "/api"), extra_environ={"SCRIPT_NAME": "/m"})
    response = app.get("/echo", headers=reply(("Set-Cookie", sent), ("Set-Cookie", "b=2")))
    assert response.headers.getall("Set-Cookie") == [expected, "b=2"]
    plain = testapp(HTTPProxy(url + "/api", rewrite_cookies=False))
    assert plain.get("/echo", headers=reply(("Set-Cookie", sent))).headers["Set-Cookie"] == sent


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=80))
def test_cookie_rewrite_never_raises(value: str) -> None:
    proxy = HTTPProxy("http://127.0.0.1:9/api")
    rewritten = proxy._client_cookie(value, make_environ(SCRIPT_NAME="/m"))
    assert rewritten.split(";")[0] == value.split(";")[0]
    assert proxy._client_url(value, make_environ()) is not None


# --- failures -----------------------------------------------------------------------


def test_refused_connection_is_a_502(caplog: pytest.LogCaptureFixture) -> None:
    response = testapp(HTTPProxy(f"http://127.0.0.1:{free_port()}")).get("/", status=502)
    assert response.content_type == "text/plain"
    assert response.text.startswith("502 Bad Gateway")
    assert "Traceback" not in response.text
    assert "Connection refused" in caplog.text


def test_an_answer_that_is_not_http_is_a_502(
    raw_upstream: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = raw_upstream
    response = testapp(HTTPProxy(url)).get("/garbage", status=502)
    assert response.text.startswith("502 Bad Gateway")
    assert "BadStatusLine" in caplog.text or "Connection aborted" in caplog.text


def test_slow_upstream_is_a_504(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    began = time.monotonic()
    response = testapp(HTTPProxy(url, timeout=0.3)).get("/sleep/3", status=504)
    assert time.monotonic() - began < 2.5
    assert response.text.startswith("504 Gateway Timeout")


@pytest.mark.parametrize(
    ("path", "status"),
    [pytest.param("/sleep/3", 504, id="timeout"), pytest.param(None, 502, id="refused")],
)
def test_failures_become_problem_json_under_json_errors(
    raw_upstream: tuple[str, Path], path: str | None, status: int
) -> None:
    url, _ = raw_upstream
    upstream = url if path else f"http://127.0.0.1:{free_port()}"
    app = testapp(HTTPProxy(upstream, timeout=0.3), JSONErrors)
    response = app.get(path or "/", status=status)
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == status


# --- streaming both ways --------------------------------------------------------------


@pytest.mark.parametrize(
    "chunked", [pytest.param("", id="length"), pytest.param("1", id="chunked")]
)
def test_download_streams(raw_upstream: tuple[str, Path], chunked: str) -> None:
    """The first bytes reach the server before the upstream sends the rest (it
    waits for a marker that the test writes only after seeing them)."""
    url, markers = raw_upstream
    name = uuid.uuid4().hex
    calls, result = start(
        HTTPProxy(url),
        {"PATH_INFO": f"/handshake/{name}", "QUERY_STRING": f"size=5&chunked={chunked}"},
    )
    chunks = iter(result)
    assert next(chunks) == b"fffff"
    (markers / name).write_text("seen")
    assert b"".join(chunks) == b"second"
    result.close()


class SlowInput:
    """``wsgi.input`` that gives its second part only once the upstream has the first."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.parts = [b"first", b"second"]
        self.marker_seen: bool | None = None

    def read(self, size: int = -1) -> bytes:
        if len(self.parts) == 1:
            self.marker_seen = wait_for(self.marker)
        return self.parts.pop(0) if self.parts else b""

    def readline(self, size: int = -1) -> bytes:
        raise NotImplementedError

    def readlines(self, hint: int = -1) -> list[bytes]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError


@pytest.mark.parametrize(
    "length", [pytest.param({"CONTENT_LENGTH": "11"}, id="length"), pytest.param({}, id="chunked")]
)
def test_upload_streams(raw_upstream: tuple[str, Path], length: dict[str, str]) -> None:
    url, markers = raw_upstream
    name = uuid.uuid4().hex
    body = SlowInput(markers / name)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": f"/upload/{name}", "wsgi.input": body}
    calls, result = start(HTTPProxy(url), {**environ, **length, "wsgi.input_terminated": True})
    seen = json.loads(b"".join(result))
    result.close()
    assert body.marker_seen is True
    assert seen["body_size"] == 11


def test_client_gone_mid_download_frees_the_connection(raw_upstream: tuple[str, Path]) -> None:
    url, markers = raw_upstream
    name = uuid.uuid4().hex
    proxy = HTTPProxy(url, pool_size=2)
    assert proxy.pool.pool is not None
    before = echo(testapp(proxy).get("/echo"))["connection"]
    calls, result = start(
        proxy, {"PATH_INFO": f"/big/{100 * 1024 * 1024}", "QUERY_STRING": f"name={name}"}
    )
    assert len(next(iter(result))) > 0
    assert proxy.pool.pool.qsize() == 1  # one of two slots is in use
    result.close()  # the server does this when the client is gone
    assert proxy.pool.pool.qsize() == 2
    assert wait_for(markers / name), "the upstream never saw the connection close"
    after = echo(testapp(proxy).get("/echo"))["connection"]
    assert after != before  # the cut connection was not used again
    assert proxy.pool.num_connections == 1  # its pool slot was


def test_a_server_start_response_that_raises_frees_the_connection(
    raw_upstream: tuple[str, Path],
) -> None:
    """The server refuses the upstream's headers (its start_response raises):
    the error goes on, and the connection, its body unread, is closed and its
    pool slot given back, so it is neither leaked nor used again."""
    url, markers = raw_upstream
    name = uuid.uuid4().hex
    proxy = HTTPProxy(url, pool_size=2)
    assert proxy.pool.pool is not None
    before = echo(testapp(proxy).get("/echo"))["connection"]

    def refusing(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        raise ConnectionResetError("the client is gone")

    environ = make_environ(PATH_INFO=f"/big/{100 * 1024 * 1024}", QUERY_STRING=f"name={name}")
    with pytest.raises(ConnectionResetError, match="the client is gone"):
        proxy(environ, refusing)
    assert proxy.pool.pool.qsize() == 2
    assert wait_for(markers / name), "the upstream never saw the connection close"
    after = echo(testapp(proxy).get("/echo"))["connection"]
    assert after != before
    assert proxy.pool.num_connections == 1


def test_a_body_cut_short_by_the_upstream_is_not_passed_as_complete(
    raw_upstream: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """The upstream announces 10 bytes and closes after 2: iterating raises
    (the server then drops the client connection) and a line is logged."""
    url, _ = raw_upstream
    calls, result = start(HTTPProxy(url), {"PATH_INFO": "/short"})
    try:
        with pytest.raises(Exception, match="IncompleteRead"):
            b"".join(result)
    finally:
        result.close()
    assert calls[0][0] == "200 OK"
    assert "broke off" in caplog.text


def test_an_upstream_stalling_mid_body_times_out(
    raw_upstream: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Headers and a first chunk, then silence: after ``timeout`` the body
    iteration raises (the server drops the client) instead of hanging."""
    url, _ = raw_upstream
    name = uuid.uuid4().hex  # no marker is ever written: the upstream waits
    environ = {"PATH_INFO": f"/handshake/{name}", "QUERY_STRING": "size=5"}
    calls, result = start(HTTPProxy(url, timeout=0.3), environ)
    chunks = iter(result)
    try:
        assert next(chunks) == b"fffff"
        began = time.monotonic()
        with pytest.raises(Exception, match="timed out"):
            next(chunks)
        assert time.monotonic() - began < 3
    finally:
        result.close()
    assert "broke off" in caplog.text


# --- real servers: Flask behind ProxyFix on waitress and gunicorn -------------------------


UPSTREAMS = [
    pytest.param("waitress", "wsgikit_fixed", id="waitress+wsgikit ProxyFix"),
    pytest.param("gunicorn", "werkzeug_fixed", id="gunicorn+werkzeug ProxyFix"),
    pytest.param("waitress", "werkzeug_fixed", id="waitress+werkzeug ProxyFix"),
    pytest.param("gunicorn", "wsgikit_fixed", id="gunicorn+wsgikit ProxyFix"),
]


def start_upstream(serve: Any, server: str, app: str) -> Any:
    target = f"e2e_http_proxy_apps:{app}"
    if server == "waitress":
        return serve(target)
    argv = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1"]
    return serve(None, argv=[*argv, "--chdir", str(TESTS_DIR), target])


@pytest.mark.parametrize(("server", "app"), UPSTREAMS)
def test_the_app_believes_the_faked_chain(serve: Any, server: str, app: str) -> None:
    upstream = start_upstream(serve, server, app)
    fake = ["--fake-for", "203.0.113.7", "--fake-proto", "https"]
    fake += ["--fake-host", "shop.example", "--fake-prefix", "/shop"]
    proxy = serve(upstream.url, command="proxy", extra_args=fake)
    status, _, body = fetch(proxy.url, "/env")
    assert status == 200
    assert json.loads(body) == {
        "remote_addr": "203.0.113.7",
        "scheme": "https",
        "host": "shop.example",
        "script_root": "/shop",
        "url": "https://shop.example/shop/env",
        "external": "https://shop.example/shop/env",
    }
    status, headers, _ = fetch(proxy.url, "/go")
    assert status == 302
    assert headers["Location"] in ("/shop/env", "https://shop.example/shop/env")


def test_without_a_chain_the_app_sees_the_proxy(serve: Any) -> None:
    """The control: the same app and server without ``wsgikit proxy`` in front."""
    upstream = start_upstream(serve, "waitress", "wsgikit_fixed")
    seen = json.loads(fetch(upstream.url, "/env")[2])
    assert (seen["remote_addr"], seen["scheme"], seen["script_root"]) == ("127.0.0.1", "http", "")


# --- wsgikit proxy -----------------------------------------------------------------


def test_proxy_command_banner_and_filters(serve: Any, raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    proxy = serve(url, command="proxy", extra_args=["--with", "json_errors"])
    status, _, body = fetch(proxy.url, "/echo")
    assert status == 200
    forwarded = dict(json.loads(body)["headers"])["X-Forwarded-For"]
    assert forwarded == "10.1.1.1, 10.3.4.5, 127.0.0.1"
    output = proxy.stop()
    assert f"a proxy to {url} on http://127.0.0.1:{proxy.port}" in output
    assert f"curl -i http://127.0.0.1:{proxy.port}/" in output


def test_proxy_command_one_hop_and_preserved_host(
    serve: Any, raw_upstream: tuple[str, Path]
) -> None:
    url, _ = raw_upstream
    args = ["--fake-for", "203.0.113.9", "--fake-proxies", "", "--preserve-host"]
    proxy = serve(url, command="proxy", extra_args=args)
    status, _, body = fetch(proxy.url, "/echo", headers={"Host": "shop.example"})
    headers = dict(json.loads(body)["headers"])
    assert (headers["X-Forwarded-For"], headers["Host"]) == ("203.0.113.9", "shop.example")


def test_proxy_command_502_is_problem_json_with_json_errors(serve: Any) -> None:
    proxy = serve(
        f"http://127.0.0.1:{free_port()}",
        command="proxy",
        extra_args=["--with", "json_errors", "--fake-proxies", ""],
    )
    status, headers, body = fetch(proxy.url, "/")
    assert status == 502
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["status"] == 502


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["ftp://x"], "upstream must be an http:// or https:// URL", id="upstream"),
        pytest.param(["http://x", "--fake-for", "nope"], "real_ip", id="fake-for"),
        pytest.param(["http://x", "--fake-host", "a b"], "host", id="fake-host"),
        pytest.param(["http://x", "--with", "nope"], "unknown filter", id="filter"),
        pytest.param(["http://x", "--timeout", "0"], "timeout", id="timeout"),
    ],
)
def test_proxy_command_errors_are_one_line(args: list[str], message: str) -> None:
    from test_cli import run_cli

    result = run_cli("proxy", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wsgikit proxy: error:")
    assert message in lines[0]


def test_proxy_command_stops_cleanly_on_ctrl_c(serve: Any, raw_upstream: tuple[str, Path]) -> None:
    proxy = serve(raw_upstream[0], command="proxy")
    assert fetch(proxy.url, "/echo")[0] == 200
    os.kill(proxy.process.pid, signal.SIGINT)
    assert proxy.process.wait(timeout=10) == 0
    assert "Traceback" not in proxy.stop()


# --- request edge cases, outgoing proxies, TLS ---------------------------------------


class BrokenInput(io.BytesIO):
    """``wsgi.input`` of a client that went away."""

    def read(self, size: int | None = -1) -> bytes:
        raise OSError("client disconnected")


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({"CONTENT_LENGTH": "10", "wsgi.input": io.BytesIO(b"abc")}, id="short"),
        pytest.param({"CONTENT_LENGTH": "10", "wsgi.input": BrokenInput()}, id="gone"),
        pytest.param(
            {"wsgi.input_terminated": True, "wsgi.input": BrokenInput()}, id="gone, no length"
        ),
    ],
)
def test_a_request_body_that_cannot_be_read_is_a_400(
    raw_upstream: tuple[str, Path], caplog: pytest.LogCaptureFixture, environ: dict[str, Any]
) -> None:
    url, _ = raw_upstream
    caplog.set_level(logging.INFO, "wsgikit.http_proxy")
    calls, body, _ = run_wsgi(HTTPProxy(url), {"REQUEST_METHOD": "POST", **environ})
    assert calls[0][0] == "400 Bad Request"
    assert "reading the request body failed" in caplog.text


def test_the_proxy_sets_host_length_and_drops_expect(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/echo",
        "CONTENT_LENGTH": "3",
        "HTTP_CONTENT_LENGTH": "999",
        "HTTP_EXPECT": "100-continue",
        "wsgi.input": io.BytesIO(b"abc"),
    }
    # Not under the validator, which refuses HTTP_CONTENT_LENGTH (some servers set it).
    calls, body, _ = run_wsgi(HTTPProxy(url), environ)
    seen = json.loads(b"".join(body))
    names = [name.lower() for name, _ in seen["headers"]]
    assert "expect" not in names
    assert names.count("content-length") == 1
    assert dict(seen["headers"])["Content-Length"] == "3"


def test_trust_env_goes_through_the_outgoing_proxy(
    raw_upstream: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw upstream plays the outgoing proxy: it gets the absolute URL."""
    url, _ = raw_upstream
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", url)
    proxy = HTTPProxy("http://upstream.invalid:81/api", trust_env=True)
    seen = echo(testapp(proxy).get("/echo"))
    assert seen["target"] == "http://upstream.invalid:81/api/echo"
    assert dict(seen["headers"])["Host"] == "upstream.invalid:81"
    ignored = HTTPProxy("http://127.0.0.1:9/api")  # trust_env=False: straight there
    assert ignored.pool.port == 9


@pytest.fixture
def tls_upstream(serve: Any, tmp_path: Path) -> tuple[str, Path]:
    """gunicorn with a self-signed certificate for 127.0.0.1: (url, cert)."""
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    argv = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1"]
    argv += ["--certfile", str(cert), "--keyfile", str(key), "--chdir", str(TESTS_DIR)]
    server = serve(None, argv=[*argv, "e2e_core_apps:hello"])
    return f"https://127.0.0.1:{server.port}", cert


@pytest.mark.parametrize(
    ("verify", "status"),
    [
        pytest.param(True, 502, id="verified: unknown CA"),
        pytest.param("cert", 200, id="verified against the CA file"),
        pytest.param(False, 200, id="not verified"),
    ],
)
def test_https_upstream(tls_upstream: tuple[str, Path], verify: Any, status: int) -> None:
    url, cert = tls_upstream
    proxy = HTTPProxy(url + "/base", verify=str(cert) if verify == "cert" else verify)
    response = testapp(proxy).get("/x", status=status)
    if status == 200:
        assert response.text == "hello from /base/x"


# --- streaming through the wsgikit proxy process ---------------------------------------


@pytest.mark.parametrize("chunked", [pytest.param("", id="length"), pytest.param("1", id="chunks")])
def test_download_streams_through_the_proxy_process(
    serve: Any, raw_upstream: tuple[str, Path], chunked: str
) -> None:
    url, markers = raw_upstream
    proxy = serve(url, command="proxy")
    name = uuid.uuid4().hex
    host, port = proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        connection.request("GET", f"/handshake/{name}?size=5&chunked={chunked}")
        response = connection.getresponse()
        assert response.read1(100) == b"fffff"
        (markers / name).write_text("seen")
        assert response.read() == b"second"
    finally:
        connection.close()


def test_client_gone_from_the_proxy_process_closes_the_upstream(
    serve: Any, raw_upstream: tuple[str, Path]
) -> None:
    """The upstream marks a download whose connection broke off: the proxy
    closed it when the client left, instead of reading the rest or hanging."""
    url, markers = raw_upstream
    proxy = serve(url, command="proxy")
    name = uuid.uuid4().hex
    host, port = proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    connection.request("GET", f"/big/{100 * 1024 * 1024}?name={name}")
    response = connection.getresponse()
    assert len(response.read(256 * 1024)) == 256 * 1024
    response.close()
    connection.close()
    assert wait_for(markers / name, timeout=20)
    assert fetch(proxy.url, "/echo")[0] == 200


# --- review fixes -------------------------------------------------------------------


@pytest.mark.parametrize("length", ["9" * 5000, "0" * 5000 + "9" * 31])
def test_a_content_length_too_long_for_int_is_a_400(
    length: str, caplog: pytest.LogCaptureFixture
) -> None:
    """int() refuses more than 4300 digits: the length is compared as text first."""
    caplog.set_level(logging.INFO, "wsgikit.http_proxy")
    environ = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": length}
    calls, body, _ = run_wsgi(HTTPProxy(f"http://127.0.0.1:{free_port()}"), environ)
    assert calls[0][0] == "400 Bad Request"
    assert b"".join(body).startswith(b"400 Bad Request")
    assert "invalid Content-Length " in caplog.text
    assert max(len(record.getMessage()) for record in caplog.records) < 400


def test_leading_zeros_do_not_make_a_length_invalid(raw_upstream: tuple[str, Path]) -> None:
    url, _ = raw_upstream
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/echo",
        "CONTENT_LENGTH": "0" * 5000 + "3",
        "wsgi.input": io.BytesIO(b"abc"),
    }
    calls, body, _ = run_wsgi(HTTPProxy(url), environ)
    assert calls[0][0] == "200 OK"
    assert json.loads(b"".join(body))["body_size"] == 3


@pytest.mark.parametrize("path", ["/no/such/ca.pem", os.devnull])
def test_an_unusable_ca_bundle_is_refused_at_construction(path: str) -> None:
    with pytest.raises(ValueError, match="verify"):
        HTTPProxy("https://127.0.0.1:9", verify=path)
    with pytest.raises(ValueError, match="verify"):
        HTTPProxy("https://127.0.0.1:9", verify=path, trust_env=True)


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_the_proxys_own_answers_have_no_body_for_head(method: str) -> None:
    calls, body = start(HTTPProxy(f"http://127.0.0.1:{free_port()}"), {"REQUEST_METHOD": method})
    sent = b"".join(body)
    body.close()  # type: ignore[attr-defined]
    assert calls[0][0] == "502 Bad Gateway"
    length = int(dict(calls[0][1])["Content-Length"])
    assert length > 0
    assert (sent == b"") == (method == "HEAD")
    if method != "HEAD":
        assert len(sent) == length


def test_client_text_in_log_lines_is_escaped_and_capped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "wsgikit.http_proxy")
    proxy = HTTPProxy(f"http://127.0.0.1:{free_port()}")
    forged = "/x\n2026-01-01 INFO forged line" + "y" * 5000
    run_wsgi(proxy, {"PATH_INFO": forged})
    run_wsgi(proxy, {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "1x\r\nforged" + "z" * 5000})
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    for message in messages:
        assert "\n" not in message and "\r" not in message
        assert len(message) < 600
    assert "\\r\\nforged" in messages[1]


def test_unverified_upstreams_leave_the_global_warning_filters_alone(
    tls_upstream: tuple[str, Path],
) -> None:
    import warnings

    url, _ = tls_upstream
    before = list(warnings.filters)
    proxies = [HTTPProxy(url + "/base", verify=False) for _ in range(3)]
    assert warnings.filters == before
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for proxy in proxies:
            assert testapp(proxy).get("/x").text == "hello from /base/x"
    assert [w for w in caught if "Unverified" in str(w.message)] == []
