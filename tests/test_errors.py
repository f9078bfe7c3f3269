"""JSONErrors: every error response and unhandled exception becomes JSON."""

from __future__ import annotations

import http.client
import io
import json
import logging
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgiref.util import FileWrapper

import pytest
from helpers import (
    SECRET,
    Handshake,
    Tracked,
    call,
    exc_info_app,
    header_values,
    lazy_app,
    linted,
    make_environ,
    problem,
    raising,
    raising_app,
    run_wsgi,
    text_app,
    tracked_app,
    write_app,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsgikit._bodies import guard
from wsgikit._response import Buffer, Headers, intercept
from wsgikit.errors import DETAILS, REQUEST_ID, JSONErrors

KEPT = [
    ("Allow", "GET, HEAD"),
    ("WWW-Authenticate", 'Basic realm="api"'),
    ("Retry-After", "120"),
    ("Set-Cookie", "a=1; Path=/"),
    ("Set-Cookie", "b=2; Path=/"),
    ("Location", "/elsewhere"),
    ("Vary", "Cookie"),
    ("Access-Control-Allow-Origin", "*"),
    ("X-Trace", "abc"),
    ("Cache-Control", "no-store"),
]
DROPPED = [
    ("Content-Encoding", "identity"),
    ("ETag", '"v1"'),
    ("Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ=="),
    ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ("Content-Language", "en"),
]


class Conflict(Exception):
    code = 409
    description = "Already there."


# --- responses the application made ------------------------------------------


@pytest.mark.parametrize(
    ("app", "code", "detail"),
    [
        pytest.param(
            text_app(b"<html><body><p>Page gone.</p></body></html>", "404 Not Found", "text/html"),
            404,
            "Page gone.",
            id="html 404",
        ),
        pytest.param(text_app(b"Not Found", "404 Not Found"), 404, DETAILS[404], id="plain 404"),
        pytest.param(
            text_app(b"Method not allowed", "405 Method Not Allowed", headers=[("Allow", "GET")]),
            405,
            DETAILS[405],
            id="plain 405",
        ),
        pytest.param(
            text_app(SECRET.encode(), "500 Internal Server Error"), 500, DETAILS[500], id="500"
        ),
        pytest.param(text_app(b"", "418 I'm a Teapot", ""), 418, DETAILS[418], id="empty 418"),
        pytest.param(text_app(b"x", "499 Client Closed"), 499, "x", id="unknown 4xx"),
    ],
)
def test_error_response_becomes_problem_json(app: WSGIApplication, code: int, detail: str) -> None:
    status, headers, body = call(JSONErrors(app), PATH_INFO="/a/b")
    data = problem(headers, body)
    assert status.startswith(str(code))
    assert data["status"] == code
    assert data["detail"] == detail
    assert data["instance"] == "/a/b"
    assert data["type"] == "about:blank"
    assert SECRET not in body.decode()


def test_title_is_the_standard_phrase() -> None:
    app = text_app(b"x", "404 NOPE")
    status, headers, body = call(JSONErrors(app))
    assert status == "404 NOPE"
    assert problem(headers, body)["title"] == "Not Found"


def test_unknown_status_takes_its_phrase_as_title() -> None:
    status, headers, body = call(JSONErrors(text_app(b"", "499 Client Closed Request")))
    assert problem(headers, body)["title"] == "Client Closed Request"


def test_meaningful_headers_survive_and_body_headers_go() -> None:
    app = text_app(b"<p>no</p>", "405 Method Not Allowed", "text/html", [*KEPT, *DROPPED])
    status, headers, body = call(JSONErrors(app))
    problem(headers, body)
    for name, value in KEPT:
        assert value in header_values(headers, name)
    for name, _ in DROPPED:
        assert header_values(headers, name) == []


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/json", id="json"),
        pytest.param("application/problem+json", id="problem"),
        pytest.param("application/vnd.api+json; charset=utf-8", id="vendor +json"),
        pytest.param("Application/JSON", id="upper case"),
    ],
)
def test_json_error_body_is_untouched_and_streams(content_type: str) -> None:
    handshake = Handshake(content_type=content_type, status="422 Unprocessable Entity")
    assert handshake.drive(JSONErrors(handshake)) == [b"first", b"second"]
    assert handshake.second_produced


def test_success_passes_through_as_the_apps_own_iterable() -> None:
    body = [b"hello"]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    assert JSONErrors(app)(make_environ(), lambda s, h, e=None: lambda b: None) is body


def test_file_wrapper_reaches_the_server_unwrapped() -> None:
    wrapped = FileWrapper(io.BytesIO(b"data"))

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return wrapped

    environ = make_environ(**{"wsgi.file_wrapper": FileWrapper})
    result = JSONErrors(app)(environ, lambda s, h, e=None: lambda b: None)
    assert result is wrapped
    wrapped.close()


def test_success_streams() -> None:
    handshake = Handshake()
    assert handshake.drive(JSONErrors(handshake)) == [b"first", b"second"]


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("204 No Content", id="204"),
        pytest.param("304 Not Modified", id="304"),
    ],
)
def test_bodyless_statuses_pass_through(status: str) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, [("ETag", '"x"')])
        return []

    got, headers, body = call(JSONErrors(app))
    assert (got, headers, body) == (status, [("ETag", '"x"')], b"")


def test_head_gets_headers_without_body() -> None:
    app = JSONErrors(text_app(b"<p>gone</p>", "404 Not Found", "text/html"))
    _, get_headers, get_body = call(app)
    status, headers, body = call(app, REQUEST_METHOD="HEAD")
    assert status == "404 Not Found"
    assert body == b""
    assert header_values(headers, "Content-Length") == [str(len(get_body))]
    assert header_values(headers, "Content-Type") == ["application/problem+json"]


@pytest.mark.parametrize(
    ("app", "code", "detail"),
    [
        pytest.param(
            lazy_app([b"<p>lazy ", b"gone</p>"], "404 Not Found"),
            404,
            "lazy gone",
            id="lazy generator",
        ),
        pytest.param(
            write_app([b"<p>written "], [b"gone</p>"], "404 Not Found"),
            404,
            "written gone",
            id="write()",
        ),
        pytest.param(
            exc_info_app("404 Not Found", "503 Service Unavailable"),
            503,
            DETAILS[503],
            id="exc_info replacement",
        ),
        pytest.param(
            exc_info_app("404 Not Found", "409 Conflict"),
            409,
            "replacement error page",
            id="exc_info replacement's own page",
        ),
    ],
)
def test_unusual_apps_are_converted(app: WSGIApplication, code: int, detail: str) -> None:
    status, headers, body = call(JSONErrors(app))
    data = problem(headers, body)
    assert int(status[:3]) == data["status"] == code
    assert data["detail"] == detail


@pytest.mark.parametrize(
    ("app", "body"),
    [
        pytest.param(lazy_app([b"lazy ", b"body"]), b"lazy body", id="lazy generator"),
        pytest.param(write_app([b"written "], [b"returned"]), b"written returned", id="write()"),
    ],
)
def test_success_from_unusual_apps_passes_through(app: WSGIApplication, body: bytes) -> None:
    status, headers, out = call(JSONErrors(app))
    assert (status, headers, out) == ("200 OK", [("Content-Type", "text/html")], body)


def test_success_replaced_by_an_error_before_returning_becomes_json() -> None:
    """200 went to the server, then start_response(503, exc_info): both the
    replacement and its JSON reach the server with exc_info."""
    calls, chunks, _ = run_wsgi(linted(JSONErrors(exc_info_app("200 OK", "503 Oops"))))
    assert [status for status, _ in calls] == ["200 OK", "503 Oops", "503 Oops"]
    data = problem(calls[-1][1], b"".join(chunks))
    assert (data["status"], data["detail"]) == (503, DETAILS[503])


def test_converted_response_closes_the_inner_iterable_once() -> None:
    tracked = Tracked([b"<p>a</p>", b"<p>b</p>"])
    status, headers, body = call(JSONErrors(tracked_app(tracked, "404 Not Found")))
    assert problem(headers, body)["detail"] == "b"
    assert tracked.closes == 1


def test_passed_through_response_closes_the_inner_iterable_once() -> None:
    tracked = Tracked([b"a", b"b"])
    status, headers, body = call(JSONErrors(tracked_app(tracked)))
    assert body == b"ab"
    assert tracked.closes == 1


def test_unexpected_exception_is_a_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = io.StringIO()
    with caplog.at_level(logging.ERROR, "wsgikit.errors"):
        status, headers, body = call(
            JSONErrors(raising_app),
            REQUEST_METHOD="POST",
            PATH_INFO="/x",
            **{"wsgi.errors": errors},
        )
    assert status == "500 Internal Server Error"
    assert problem(headers, body)["detail"] == DETAILS[500]
    assert SECRET not in body.decode() and "Traceback" not in body.decode()
    assert "POST /x" in caplog.text and SECRET in caplog.text
    assert "POST /x" in errors.getvalue() and "Traceback" in errors.getvalue()


def test_client_error_exceptions_are_logged_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors = io.StringIO()
    with caplog.at_level(logging.INFO, "wsgikit.errors"):
        call(JSONErrors(raising(Conflict()), exceptions={Conflict: 409}), **{"wsgi.errors": errors})
    assert [record.levelname for record in caplog.records] == ["INFO"]
    assert errors.getvalue() == ""


def test_log_lines_escape_control_characters(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "wsgikit.errors"):
        call(JSONErrors(raising_app), PATH_INFO="/a\nFAKE LOG LINE")
    assert "\nFAKE LOG LINE" not in caplog.records[0].getMessage()


def test_head_of_an_exception_has_no_body() -> None:
    status, headers, body = call(JSONErrors(raising_app), REQUEST_METHOD="HEAD")
    assert status.startswith("500") and body == b""
    assert int(header_values(headers, "Content-Length")[0]) > 0


def test_lazy_app_raising_before_start_response_is_a_500() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        raise RuntimeError(SECRET)
        yield b""

    status, headers, body = call(JSONErrors(app))
    assert status.startswith("500")
    assert SECRET not in body.decode()


def test_exception_while_buffering_an_error_is_a_500_and_closes() -> None:
    tracked = Tracked([b"a", b"b"], fail_at=1)
    status, headers, body = call(JSONErrors(tracked_app(tracked, "404 Not Found")))
    assert status.startswith("500") and problem(headers, body)["status"] == 500
    assert tracked.closes == 1


def test_exception_before_the_first_chunk_becomes_a_500() -> None:
    tracked = Tracked([b"a", b"b"], fail_at=0)
    status, headers, body = call(JSONErrors(tracked_app(tracked)))
    assert status.startswith("500") and problem(headers, body)["status"] == 500
    assert tracked.closes == 1


def test_exception_mid_stream_is_logged_and_reraised(caplog: pytest.LogCaptureFixture) -> None:
    tracked = Tracked([b"a", b"b", b"c"], fail_at=1)
    errors = io.StringIO()
    with caplog.at_level(logging.ERROR, "wsgikit.errors"), pytest.raises(RuntimeError):
        run_wsgi(linted(JSONErrors(tracked_app(tracked))), {"wsgi.errors": errors})
    assert tracked.closes == 1
    assert "after the response started" in caplog.text
    assert "boom at chunk 1" in errors.getvalue()


def test_exception_after_write_cannot_be_converted() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"partial")
        raise RuntimeError(SECRET)

    with pytest.raises(RuntimeError, match=SECRET):
        run_wsgi(JSONErrors(app))


def test_debug_shows_the_traceback_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "wsgikit.errors"):
        app = JSONErrors(raising_app, debug=True)
    assert "debug=True" in caplog.text
    _, headers, body = call(app)
    data = problem(headers, body)
    assert data["detail"] == f"RuntimeError: {SECRET}"
    assert any("raise RuntimeError" in line for line in data["traceback"])


class Unprintable(Exception):
    """An exception whose ``str()`` and ``repr()`` both raise."""

    def __str__(self) -> str:
        raise ValueError("no str")

    def __repr__(self) -> str:
        raise ValueError("no repr")


class BrokenNotes(Exception):
    """An exception whose ``__notes__`` raises (breaks ``traceback.format_exception``)."""

    @property
    def __notes__(self) -> list[str]:
        raise ValueError("no notes")


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        pytest.param(Unprintable(), "Unprintable: <exception str() failed>", id="str raises"),
        pytest.param(BrokenNotes("x"), "BrokenNotes: x", id="__notes__ raises"),
    ],
)
def test_any_exception_object_gets_a_json_500(
    exc: Exception, detail: str, debug: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debug output survives an exception that cannot be printed."""
    # Logging such an exception fails inside the log handler (pytest's raises
    # where a real one prints "--- Logging error ---"): keep it out of logging.
    errors_logger = logging.getLogger("wsgikit.errors")
    monkeypatch.setattr(errors_logger, "propagate", False)
    monkeypatch.setattr(errors_logger, "handlers", [logging.NullHandler()])
    errors = io.StringIO()
    status, headers, body = call(JSONErrors(raising(exc), debug=debug), **{"wsgi.errors": errors})
    data = problem(headers, body)
    assert status.startswith("500") and data["status"] == 500
    if debug:
        assert data["detail"] == detail
        assert data["traceback"] and all(isinstance(line, str) for line in data["traceback"])
    else:
        assert data["detail"] == DETAILS[500] and "traceback" not in data
    assert type(exc).__name__ in errors.getvalue()


def test_without_debug_there_is_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "wsgikit.errors"):
        JSONErrors(raising_app)
    assert caplog.records == []


# --- formats ----------------------------------------------------------------------


def test_simple_format() -> None:
    app = JSONErrors(text_app(b"<p>Gone away.</p>", "404 Not Found", "text/html"), format="simple")
    _, headers, body = call(app)
    assert problem(headers, body, "application/json") == {
        "code": 404,
        "message": "Not Found",
        "description": "Gone away.",
    }


def test_callable_format_gets_status_title_detail_environ() -> None:
    seen: list[Any] = []

    def fmt(status: int, title: str, detail: str, environ: WSGIEnvironment) -> dict[str, Any]:
        seen.append(environ.get("wsgikit.errors.exception"))
        return {"error": {"status": status, "title": title, "detail": detail}}

    _, headers, body = call(JSONErrors(raising(Conflict()), format=fmt, duck_typing=True))
    data = problem(headers, body, "application/json")
    assert data == {"error": {"status": 409, "title": "Conflict", "detail": "Already there."}}
    assert isinstance(seen[0], Conflict)


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param(lambda *args: 1 / 0, id="raises"),
        pytest.param(lambda *args: ["not", "a", "dict"], id="not a mapping"),
        pytest.param(lambda *args: {"x": object()}, id="not serialisable"),
    ],
)
def test_failing_callable_falls_back_to_problem(fmt: Any, caplog: pytest.LogCaptureFixture) -> None:
    tracked = Tracked([b"<p>x</p>"])
    with caplog.at_level(logging.ERROR, "wsgikit.errors"):
        _, headers, body = call(JSONErrors(tracked_app(tracked, "404 Not Found"), format=fmt))
    # The Content-Type was chosen for the callable's JSON: application/json.
    assert problem(headers, body, "application/json")["status"] == 404
    assert "format callable failed" in caplog.text
    assert tracked.closes == 1


def test_lone_surrogates_still_give_valid_json() -> None:
    app = JSONErrors(text_app(b"", "400 Bad Request"), format=lambda *a: {"x": "\ud800"})
    _, headers, body = call(app)
    assert json.loads(body.decode("ascii")) == {"x": "\ud800"}


def test_types_and_content_type_options() -> None:
    app = JSONErrors(
        text_app(b"", "404 Not Found"),
        types={404: "https://example.com/probs/missing"},
        content_type="application/json",
    )
    _, headers, body = call(app)
    assert problem(headers, body, "application/json")["type"] == (
        "https://example.com/probs/missing"
    )


def request_id_row(value: str, echoed: bool, case: str) -> Any:
    """A row: the incoming request ID ``value`` is echoed in the problem, or left out."""
    expected = value if echoed else None
    return pytest.param(
        {"HTTP_X_REQUEST_ID": value}, "request_id", expected, id="request id " + case
    )


@pytest.mark.parametrize(
    ("environ", "member", "expected"),
    [
        pytest.param({"PATH_INFO": "/a b/%"}, "instance", "/a%20b/%25", id="instance quoted"),
        pytest.param({"PATH_INFO": "/caf\xc3\xa9"}, "instance", "/caf%C3%A9", id="instance utf-8"),
        pytest.param({"PATH_INFO": ""}, "instance", "/", id="instance empty"),
        request_id_row("4bf92f35-77b3-4da6-a3ce-929d0e0e4736", True, "uuid"),
        request_id_row("req:1/abc+def==", True, "base64ish"),
        request_id_row("x" * 128, True, "128 chars"),
        request_id_row("x" * 129, False, "too long"),
        request_id_row('<script>alert("x")</script>', False, "markup"),
        request_id_row("a b", False, "space"),
        request_id_row("caf\xe9", False, "non-ascii"),
        request_id_row("", False, "empty"),
    ],
)
@pytest.mark.parametrize("app", [raising_app, text_app(b"", "404 Not Found")], ids=["500", "404"])
def test_problem_members_taken_from_the_request(
    app: WSGIApplication, environ: dict[str, str], member: str, expected: str | None
) -> None:
    """``instance`` is the quoted path; a request ID is echoed only when plausible."""
    _, headers, body = call(JSONErrors(app), **environ)
    assert problem(headers, body).get(member) == expected


def test_request_id_header_is_configurable() -> None:
    app = JSONErrors(raising_app, request_id_header="X-Correlation-ID")
    _, headers, body = call(app, HTTP_X_CORRELATION_ID="abc", HTTP_X_REQUEST_ID="def")
    assert problem(headers, body)["request_id"] == "abc"
    _, headers, body = call(JSONErrors(raising_app, request_id_header=None), HTTP_X_REQUEST_ID="d")
    assert "request_id" not in problem(headers, body)


@pytest.mark.parametrize("fmt", ["problem", partial(JSONErrors, format="problem", debug=True)])
def test_request_id_set_by_request_id_middleware_wins(fmt: Any) -> None:
    """The ID RequestID put in the environ is the one echoed (#13), also in the
    dict-built (debug) body, and even with the header option off."""
    environ = {"wsgikit.request_id": "rid-1", "HTTP_X_REQUEST_ID": "from-header"}
    for app in (JSONErrors(raising_app), JSONErrors(raising_app, request_id_header=None)):
        if fmt != "problem":
            app = fmt(raising_app)
        _, headers, body = call(app, **environ)
        assert problem(headers, body)["request_id"] == "rid-1"


@settings(max_examples=150, deadline=None)
@given(value=st.text(max_size=200))
def test_any_request_id_is_echoed_exactly_or_dropped(value: str) -> None:
    _, headers, body = call(JSONErrors(raising_app), lint=False, HTTP_X_REQUEST_ID=value)
    data = problem(headers, body)
    expected = value if REQUEST_ID.fullmatch(value) else None
    assert data.get("request_id") == expected


# --- negotiation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "converted"),
    [
        pytest.param(None, True, id="no Accept"),
        pytest.param("*/*", True, id="anything"),
        pytest.param("application/json", True, id="json"),
        pytest.param("application/problem+json", True, id="problem"),
        pytest.param("text/html,application/xhtml+xml,*/*;q=0.8", False, id="browser"),
        pytest.param("application/json;q=0.5, text/html", False, id="html preferred"),
        pytest.param("text/html;q=0.1, application/json", True, id="json preferred"),
        pytest.param("image/png", True, id="neither"),
        pytest.param(";;;,,q=x", True, id="garbage"),
    ],
)
def test_negotiate_converts_when_json_is_preferred(accept: str | None, converted: bool) -> None:
    app = JSONErrors(text_app(b"<p>x</p>", "404 Not Found", "text/html"), negotiate=True)
    environ = {} if accept is None else {"HTTP_ACCEPT": accept}
    _, headers, body = call(app, **environ)
    assert (body != b"<p>x</p>") is converted
    assert header_values(headers, "Vary") == ["Accept"]


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        pytest.param([("Vary", "Cookie")], ["Cookie, Accept"], id="one Vary"),
        pytest.param(
            [("Vary", "Cookie"), ("Vary", "Origin")], ["Cookie, Origin, Accept"], id="two merged"
        ),
        pytest.param(
            [("Vary", "Cookie"), ("vary", "accept")], ["Cookie", "accept"], id="already named"
        ),
        pytest.param([("Vary", "*")], ["*"], id="star"),
    ],
)
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_negotiate_merges_vary(
    vary: list[tuple[str, str]], expected: list[str], accept: str
) -> None:
    """Kept HTML page or JSON, ``Accept`` is named in ``Vary`` once."""
    app = text_app(b"<p>x</p>", "404 Not Found", "text/html", vary)
    _, headers, _ = call(JSONErrors(app, negotiate=True), HTTP_ACCEPT=accept)
    assert header_values(headers, "Vary") == expected


def test_negotiate_still_converts_exceptions() -> None:
    _, headers, body = call(JSONErrors(raising_app, negotiate=True), HTTP_ACCEPT="text/html")
    assert problem(headers, body)["status"] == 500


@settings(max_examples=100, deadline=None)
@given(accept=st.text(max_size=80))
def test_any_accept_header_is_handled(accept: str) -> None:
    app = JSONErrors(text_app(b"<p>x</p>", "404 Not Found", "text/html"), negotiate=True)
    status, headers, body = call(app, lint=False, HTTP_ACCEPT=accept)
    assert status == "404 Not Found"
    assert body == b"<p>x</p>" or problem(headers, body)["status"] == 404


# --- properties over statuses and header sets -------------------------------------

_HEADER_NAMES = st.sampled_from(
    [name for name, _ in KEPT + DROPPED] + ["X-Custom", "Link", "Content-Type", "Content-Length"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    code=st.integers(min_value=200, max_value=599),
    extra=st.lists(st.tuples(_HEADER_NAMES, st.from_regex(r"[a-z0-9=;, ]{0,12}", fullmatch=True))),
    content_type=st.sampled_from(["text/html", "text/plain", "application/json", "image/png"]),
)
def test_statuses_and_header_sets(
    code: int, extra: list[tuple[str, str]], content_type: str
) -> None:
    body = b"<p>body</p>"
    extra = [(name, value) for name, value in extra if name.lower() != "content-length"]
    status = f"{code} Something"
    app = text_app(body, status, content_type, extra)
    got_status, headers, out = call(JSONErrors(app), lint=False)
    assert got_status == status
    original = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        *extra,
    ]
    if code < 400 or content_type == "application/json":
        assert (headers, out) == (original, body)
        return
    data = problem(headers, out)
    assert data["status"] == code
    kept_names = {name.lower() for name, _ in KEPT} | {"x-custom", "link"}
    assert [h for h in headers if h[0].lower() in kept_names] == [
        h for h in original if h[0].lower() in kept_names
    ]
    assert not {"etag", "content-md5", "last-modified"} & {h[0].lower() for h in headers}


# --- end to end ----------------------------------------------------------------------


def test_end_to_end_through_a_real_server(serve: Any) -> None:
    server = serve("e2e_errors_apps:app")
    missing = server.get("/missing", {"X-Request-ID": "e2e-1"})
    assert missing.status == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert json.loads(missing.read()) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No such thing here.",
        "instance": "/missing",
        "request_id": "e2e-1",
    }
    boom = server.get("/boom")
    text = boom.read().decode()
    assert boom.status == 500 and "internal detail" not in text
    assert json.loads(text)["status"] == 500
    assert server.get("/json").read() == b'{"ok":true}\n'
    stream = server.get("/stream")
    assert stream.status == 200
    # waitress sent the first chunk, then closed the connection mid-body.
    with pytest.raises(http.client.IncompleteRead) as aborted:
        stream.read()
    assert aborted.value.partial == b"first chunk\n"
    stream.close()
    for response in (missing, boom):
        response.close()


def test_wrapping_in_a_partial_layer() -> None:
    layer = partial(JSONErrors, format="simple")
    status, headers, body = call(layer(raising_app))
    assert problem(headers, body, "application/json")["code"] == 500


def test_werkzeug_test_client_gets_the_json_500() -> None:
    """No exc_info on a first start_response: werkzeug's client would re-raise it."""
    from werkzeug.test import Client

    response = Client(JSONErrors(raising_app)).get("/")
    assert response.status_code == 500
    assert response.get_json()["status"] == 500


def test_nested_instances_track_the_servers_status_apart() -> None:
    """The inner JSONErrors passed a 200 on to a layer that held it back and
    failed: the outer one's server has no status, so no exc_info (which
    werkzeug's client would re-raise)."""
    from werkzeug.test import Client

    def failing_layer(app: WSGIApplication) -> WSGIApplication:
        def finish(status: str, headers: Headers, body: bytes) -> Any:
            raise RuntimeError(SECRET)

        return lambda environ, sr: intercept(app, environ, sr, lambda e, s, h: Buffer(finish))

    inner = JSONErrors(text_app(b"<p>fine</p>", "200 OK", "text/html"))
    logging.disable(logging.CRITICAL)
    try:
        response = Client(JSONErrors(failing_layer(inner))).get("/")
    finally:
        logging.disable(logging.NOTSET)
    assert response.status_code == 500
    assert response.get_json()["status"] == 500


def test_exception_after_start_response_replaces_it_with_exc_info() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise RuntimeError(SECRET)

    calls, chunks, _ = run_wsgi(linted(JSONErrors(app)))
    assert [status for status, _ in calls] == ["200 OK", "500 Internal Server Error"]
    assert json.loads(b"".join(chunks))["status"] == 500


# --- the guarded body (wsgikit._bodies.guard) -------------------------------------


class LazyTracked:
    """A lazy app's iterable: start_response on the first iteration, then the
    chunks of ``tracked`` (a fresh iterator for every ``iter()``)."""

    def __init__(self, start_response: StartResponse, tracked: Tracked) -> None:
        self.start_response = start_response
        self.tracked = tracked

    def __iter__(self) -> Iterator[bytes]:
        self.start_response("200 OK", [("Content-Type", "text/plain")])
        yield from self.tracked

    def close(self) -> None:
        self.tracked.close()


def guarded_app(tracked: Tracked, lazy: bool) -> WSGIApplication:
    if not lazy:
        return tracked_app(tracked, content_type="text/plain")

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return LazyTracked(start_response, tracked)

    return app


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chunks=st.lists(st.sampled_from([b"", b"a", b"bc"]), max_size=5),
    fail=st.none() | st.integers(min_value=0, max_value=5),
    lazy=st.booleans(),
)
def test_errors_while_iterating_become_json_only_before_a_byte_went_out(
    chunks: list[bytes], fail: int | None, lazy: bool
) -> None:
    fail_at = None if fail is None else min(fail, len(chunks))
    tracked = Tracked(chunks, fail_at=fail_at)
    app = linted(JSONErrors(guarded_app(tracked, lazy)))
    logging.disable(logging.CRITICAL)
    try:
        if fail_at is not None and any(chunks[:fail_at]):
            with pytest.raises(RuntimeError, match="boom"):
                run_wsgi(app)
        else:
            calls, body, _ = run_wsgi(app)
            if fail_at is None:
                assert calls[-1][0] == "200 OK" and body == chunks
            else:
                assert calls[-1][0].startswith("500")
                assert json.loads(b"".join(body))["status"] == 500
    finally:
        logging.disable(logging.NOTSET)
    assert tracked.closes == 1


def test_guard_iterates_a_reiterable_body_once() -> None:
    """An iterable whose __iter__ starts afresh is iterated through one iterator."""
    tracked = Tracked([b"", b"a", b"b", b"c"])
    calls, body, _ = run_wsgi(linted(JSONErrors(tracked_app(tracked))))
    assert body == [b"", b"a", b"b", b"c"]
    assert tracked.served == 4 and tracked.closes == 1


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("consume", [False, True])
def test_guarded_body_closes_once_whether_iterated_or_not(lazy: bool, consume: bool) -> None:
    tracked = Tracked([b"a", b"b"])
    _, body, result = run_wsgi(JSONErrors(guarded_app(tracked, lazy)), consume=consume)
    result.close()  # a second close() is harmless
    assert tracked.closes == 1
    assert body == ([b"a", b"b"] if consume else [])


def test_guarded_body_streams() -> None:
    handshake = Handshake(content_type="text/plain")
    assert handshake.drive(JSONErrors(handshake)) == [b"first", b"second"]
    assert handshake.second_produced


def test_body_whose_iter_raises_becomes_a_500() -> None:
    class Unstartable:
        closes = 0

        def __iter__(self) -> Iterator[bytes]:
            raise RuntimeError(SECRET)

        def close(self) -> None:
            Unstartable.closes += 1

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Unstartable()

    status, headers, body = call(JSONErrors(app))
    assert status.startswith("500") and SECRET not in body.decode()
    assert Unstartable.closes == 1


def test_guard_returns_lists_and_file_wrappers_as_they_are() -> None:
    body = [b"x"]
    assert guard(body, lambda exc, sent: None) is body
    wrapped = FileWrapper(io.BytesIO(b"x"))
    assert guard(wrapped, lambda exc, sent: None, FileWrapper) is wrapped
    assert guard(wrapped, lambda exc, sent: None) is not wrapped
    assert list(guard(iter([b"a", b"b"]), lambda exc, sent: None)) == [b"a", b"b"]


def test_guard_may_replace_even_after_bytes_went_out() -> None:
    """The on_error contract of guard(): a replacement is used whenever given."""
    tracked = Tracked([b"a", b"b"], fail_at=1)
    seen: list[bool] = []

    def on_error(exc: BaseException, sent: bool) -> Iterable[bytes] | None:
        seen.append(sent)
        assert tracked.closes == 1  # closed before on_error runs
        return [b"!"]

    assert list(guard(tracked, on_error)) == [b"a", b"!"]
    assert seen == [True]


class TrackedRedirect(Exception):
    """A duck-typed HTTP exception answering with a body that records close()."""

    code = 303

    def __init__(self) -> None:
        super().__init__("see other")
        self.body = Tracked([b"see ", b"other"])

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("303 See Other", [("Location", "/x"), ("Content-Type", "text/plain")])
        return self.body


@pytest.mark.parametrize("lazy", [False, True])
def test_redirect_raised_while_iterating_replaces_the_response(lazy: bool) -> None:
    """Before a byte went out a redirect still wins; both bodies are closed once."""
    exc = TrackedRedirect()

    class Failing(Tracked):
        def __iter__(self) -> Iterator[bytes]:
            yield b""
            raise exc

    failing = Failing([])
    calls, chunks, _ = run_wsgi(linted(JSONErrors(guarded_app(failing, lazy), duck_typing=True)))
    assert [status for status, _ in calls][-1] == "303 See Other"
    assert header_values(calls[-1][1], "Location") == ["/x"]
    assert b"".join(chunks) == b"see other"
    assert failing.closes == 1 and exc.body.closes == 1


def test_demo_boom_prints_its_traceback_once(serve: Any) -> None:
    """``wsgikit serve`` (no logging configured, ``wsgi.errors`` is stderr): the
    logger's last-resort output and ``wsgi.errors`` are one stream, written once."""
    server = serve(None)
    boom = server.get("/boom", {"X-Request-ID": "demo-1"})
    assert boom.status == 500 and json.loads(boom.read())["request_id"] == "demo-1"
    output = server.stop()
    assert output.count("Traceback (most recent call last)") == 1, output
    assert output.count("RuntimeError: the demo failed on purpose") == 1, output


def test_traceback_is_written_once_when_the_log_goes_to_wsgi_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors = io.StringIO()
    errors_logger = logging.getLogger("wsgikit.errors")
    monkeypatch.setattr(errors_logger, "handlers", [logging.StreamHandler(errors)])
    # No lint: wsgiref.validate would wrap wsgi.errors in an object of its own.
    call(JSONErrors(raising_app), lint=False, **{"wsgi.errors": errors})
    assert errors.getvalue().count("Traceback (most recent call last)") == 1
    other = io.StringIO()
    call(JSONErrors(raising_app), lint=False, **{"wsgi.errors": other})
    assert other.getvalue().count("Traceback (most recent call last)") == 1


# --- review fixes -------------------------------------------------------------------


def test_a_413_from_max_body_size_has_the_rfc_9110_title() -> None:
    from helpers import testapp

    from wsgikit import MaxBodySize

    app = testapp(text_app(), lambda inner: JSONErrors(MaxBodySize(inner, 1)))
    response = app.post("/", b"12345", headers={"Accept": "application/json"}, status=413)
    assert response.status == "413 Content Too Large"
    assert response.json["title"] == "Content Too Large"


@pytest.mark.parametrize(
    ("status", "title"),
    [
        ("413 Request Entity Too Large", "Content Too Large"),
        ("414 Request-URI Too Long", "URI Too Long"),
        ("416 Requested Range Not Satisfiable", "Range Not Satisfiable"),
        ("422 Unprocessable Entity", "Unprocessable Content"),
        ("404 Not Found", "Not Found"),
    ],
)
def test_problem_titles_are_the_rfc_9110_names(status: str, title: str) -> None:
    from helpers import testapp

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = status.encode()  # only repeats the status line: no description
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    response = testapp(app, JSONErrors).get(
        "/", headers={"Accept": "application/json"}, status=int(status[:3])
    )
    assert response.json["title"] == title
    assert response.json["detail"] != status
