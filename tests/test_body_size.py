"""MaxBodySize: 413 for a declared or actual request body over the limit."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgiref.validate import validator

import pytest
import webtest
from helpers import (
    ROOT,
    TESTS_DIR,
    call,
    free_port,
    linted,
    make_environ,
    rows,
    run_wsgi,
    stop_by_pid,
    testapp,
)
from hypothesis import given
from hypothesis import strategies as st

from wsgikit import BodyTooLarge, JSONErrors, MaxBodySize

LIMIT = 10
CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}


class Reader:
    """An app that reads the body with ``read`` and echoes it; counts its calls."""

    def __init__(self, read: Callable[[Any], bytes] = lambda stream: stream.read()) -> None:
        self.read = read
        self.calls = 0
        self.seen: list[bytes] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.calls += 1
        body = self.read(environ["wsgi.input"])
        self.seen.append(body)
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        return [body]


# --- a declared Content-Length ----------------------------------------------------------


#: (status, Content-Length) rows: the answer to each declared length.
CONTENT_LENGTHS = [
    *rows(
        "200 OK",
        "200",
        ("0", "empty"),
        ("10", "at the limit"),
        ("0010", "leading zeros"),
        ("0" * 5000 + "5", "5000 zeros"),
    ),
    *rows("413 Content Too Large", "413", ("11", "over"), ("9" * 5000, "5000 digits")),
    *rows(
        "400 Bad Request",
        "400",
        ("abc", "not a number"),
        ("-1", "negative"),
        ("1.5", "decimal"),
        ("5, 5", "list"),
        ("\uff15", "non-ASCII digit"),
    ),
]


@pytest.mark.parametrize(("status", "length"), CONTENT_LENGTHS)
def test_content_length_is_checked_before_the_app_runs(length: str, status: str) -> None:
    reader = Reader(lambda stream: stream.read(5))
    # wsgiref's lint refuses a bad Content-Length itself (and int() over 4300 digits).
    app: WSGIApplication = reader if len(length) > 4000 else validator(reader)
    app = MaxBodySize(app, LIMIT)
    if status != "400 Bad Request" and len(length) < 4000:
        app = validator(app)
    response = call(app, lint=False, body=b"hello", CONTENT_LENGTH=length)
    assert response.status == status
    assert reader.calls == (1 if status == "200 OK" else 0)
    if reader.calls == 0:
        assert response.header("Content-Type") == "text/plain; charset=utf-8"
        assert response.header("Content-Length") == str(len(response.body))


def test_413_says_what_the_limit_is(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="wsgikit.body_size"):
        response = testapp(Reader(), lambda app: MaxBodySize(app, LIMIT)).post(
            "/", b"x" * 11, status=413
        )
    assert response.text == "The request body is larger than the limit of 10 bytes.\n"
    assert "Content-Length 11 over the limit of 10 bytes" in caplog.text


def test_invalid_content_length_is_logged_escaped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="wsgikit.body_size"):
        call(MaxBodySize(Reader(), LIMIT), lint=False, body=b"", CONTENT_LENGTH='1"\n2')
    assert 'invalid Content-Length 1\\"\\n2: answered 400' in caplog.text


def test_no_body_passes_through_untouched() -> None:
    body = [b"ok"]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        assert type(environ["wsgi.input"]) is io.BytesIO
        start_response("200 OK", [])
        return body

    _, _, result = run_wsgi(MaxBodySize(app, LIMIT))
    assert result is body
    _, _, result = run_wsgi(MaxBodySize(app, LIMIT), {"CONTENT_LENGTH": "3"})
    assert result is body


@pytest.mark.parametrize(
    ("environ", "sent"),
    [
        pytest.param({"CONTENT_LENGTH": "99"}, b"", id="declared"),
        pytest.param(CHUNKED, b"x" * 100, id="chunked, read past the limit"),
    ],
)
def test_head_413_has_no_body_and_the_get_headers(environ: dict[str, str], sent: bytes) -> None:
    def answer(method: str) -> Any:
        reader = Reader(lambda stream: stream.read(100))
        return call(
            MaxBodySize(reader, LIMIT), lint=False, body=sent, REQUEST_METHOD=method, **environ
        )

    head, get = answer("HEAD"), answer("GET")
    assert (head.status, head.body) == ("413 Content Too Large", b"")
    assert get.body and head.header_list == get.header_list


@pytest.mark.parametrize(
    ("environ", "status"),
    [
        pytest.param({"CONTENT_LENGTH": "11"}, 413, id="declared"),
        pytest.param({"CONTENT_LENGTH": "x"}, 400, id="invalid"),
        pytest.param(CHUNKED, 413, id="chunked"),
    ],
)
def test_json_errors_outside_makes_it_problem_json(environ: dict[str, Any], status: int) -> None:
    app = JSONErrors(MaxBodySize(Reader(lambda stream: stream.read(100)), LIMIT))
    response = call(app, lint=False, body=b"x" * 11, REQUEST_METHOD="POST", **environ)
    assert response.status_code == status
    assert response.header("Content-Type") == "application/problem+json"
    assert json.loads(response.body)["status"] == status
    if status == 413:
        assert "limit of 10 bytes" in json.loads(response.body)["detail"]


# --- a body of unknown length -------------------------------------------------------------

READS = {
    "read()": lambda stream: stream.read(),
    "read(None)": lambda stream: stream.read(None),
    "read(3) loop": lambda stream: b"".join(iter(lambda: stream.read(3), b"")),
    "read(100)": lambda stream: stream.read(100),
    "readline()": lambda stream: b"".join(iter(stream.readline, b"")),
    "readline(4)": lambda stream: b"".join(iter(lambda: stream.readline(4), b"")),
    "readlines()": lambda stream: b"".join(stream.readlines()),
    "readlines(3)": lambda stream: b"".join(stream.readlines(3)) + stream.read(),
    "iteration": lambda stream: b"".join(stream),
}


@pytest.mark.parametrize("how", READS)
@pytest.mark.parametrize("size", [0, 9, 10])
def test_chunked_body_within_the_limit_is_read_whole(how: str, size: int) -> None:
    data = (b"ab\ncd\n" * 4)[:size]
    status, _, body = call(
        validator(MaxBodySize(Reader(READS[how]), LIMIT)), lint=False, body=data, **CHUNKED
    )
    assert (status, body) == ("200 OK", data)


@pytest.mark.parametrize("how", READS)
@pytest.mark.parametrize("size", [11, 1000])
def test_chunked_body_over_the_limit_is_413(how: str, size: int) -> None:
    reader = Reader(READS[how])
    status, headers, body = call(
        validator(MaxBodySize(reader, LIMIT)),
        lint=False,
        body=(b"ab\ncd\n" * 200)[:size],
        **CHUNKED,
    )
    assert status == "413 Content Too Large"
    assert body == b"The request body is larger than the limit of 10 bytes.\n"
    assert reader.seen == []  # the app never got a body


def test_reads_keep_failing_after_the_limit() -> None:
    """An app that swallows the error cannot go on as if the body had ended."""
    outcomes: list[str] = []

    def stubborn(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        for _ in range(3):
            try:
                stream.read(8)
                outcomes.append("data")
            except BodyTooLarge as exc:
                outcomes.append(f"{exc.code} {exc.limit}")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    call(MaxBodySize(stubborn, LIMIT), lint=False, body=b"x" * 20, **CHUNKED)
    assert outcomes == ["data", "413 10", "413 10"]


def test_body_read_while_iterating_becomes_413_before_any_byte() -> None:
    def lazy_reader(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        yield environ["wsgi.input"].read()

    status, _, body = call(
        linted(MaxBodySize(lazy_reader, LIMIT)), lint=False, body=b"x" * 11, **CHUNKED
    )
    assert status == "413 Content Too Large" and body.startswith(b"The request body")


def test_read_after_start_response_is_replaced_with_exc_info() -> None:
    calls: list[tuple[str, Any]] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["wsgi.input"].read()]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        calls.append((status, exc_info))
        return lambda data: None

    environ = make_environ(**CHUNKED, **{"wsgi.input": io.BytesIO(b"x" * 11)})
    result = MaxBodySize(app, LIMIT)(environ, start_response)
    assert [status for status, _ in calls] == ["200 OK", "413 Content Too Large"]
    assert calls[0][1] is None and calls[1][1][0] is BodyTooLarge
    assert list(result) == [b"The request body is larger than the limit of 10 bytes.\n"]


def test_error_after_bytes_were_sent_is_reraised() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"started"
        yield environ["wsgi.input"].read()

    with pytest.raises(BodyTooLarge):
        call(MaxBodySize(app, LIMIT), lint=False, body=b"x" * 11, **CHUNKED)


def test_other_exceptions_pass_through() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read()
        raise KeyError("app bug")

    with pytest.raises(KeyError):
        call(MaxBodySize(app, LIMIT), lint=False, body=b"x", **CHUNKED)


def test_flask_answers_413_itself(flask_app: Any) -> None:
    """BodyTooLarge is a werkzeug RequestEntityTooLarge: Flask renders it."""
    import flask

    @flask_app.route("/upload", methods=["POST"])
    def upload() -> str:
        return f"{len(flask.request.get_data())} bytes"

    # Lint only outside: werkzeug calls read() without a size, which lint refuses.
    app = webtest.TestApp(validator(MaxBodySize(flask_app, LIMIT)))
    assert app.post("/upload", b"x" * 10, extra_environ=CHUNKED).text == "10 bytes"
    response = app.post("/upload", b"x" * 11, extra_environ=CHUNKED, status=413)
    assert "Request Entity Too Large" in response.text


@given(st.text(max_size=30))
def test_any_content_length_gives_a_documented_outcome(length: str) -> None:
    reader = Reader(lambda stream: b"")
    status, _, _ = call(MaxBodySize(reader, LIMIT), lint=False, body=b"", CONTENT_LENGTH=length)
    if not length:
        expected = "200 OK"
    elif not (length.isascii() and length.isdigit()):
        expected = "400 Bad Request"
    elif int(length) > LIMIT:
        expected = "413 Content Too Large"
    else:
        expected = "200 OK"
    assert status == expected


@given(
    size=st.integers(0, 40),
    limit=st.integers(0, 20),
    reads=st.lists(st.tuples(st.sampled_from(["read", "readline"]), st.integers(-1, 25))),
)
def test_limited_input_never_passes_off_part_of_a_body_as_all_of_it(
    size: int, limit: int, reads: list[tuple[str, int]]
) -> None:
    """Whatever the reads: the bytes returned are a prefix of the body, never
    more than the limit, and EOF is seen only when the whole body fit."""
    data = bytes(range(48, 48 + size)).replace(b"5", b"\n")
    got = bytearray()
    outcome = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        for method, arg in [*reads, ("read", -1), ("read", -1)]:
            chunk = getattr(stream, method)(arg)
            got.extend(chunk)
            if not chunk and arg != 0:
                outcome.append("eof")
                break
        start_response("200 OK", [])
        return []

    status, _, _ = call(MaxBodySize(app, limit), lint=False, body=data, **CHUNKED)
    assert bytes(got) == data[: len(got)] and len(got) <= limit
    if size <= limit:
        assert status == "200 OK" and outcome == ["eof"] and bytes(got) == data
    else:
        assert status == "413 Content Too Large" and outcome == []


# --- real servers on 127.0.0.1 --------------------------------------------------------------


def _post(port: int, body: bytes | Iterable[bytes], chunked: bool) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if chunked:
            conn.request(
                "POST",
                "/",
                body=iter(body),
                encode_chunked=True,
                headers={"Transfer-Encoding": "chunked"},
            )
        else:
            conn.request("POST", "/", body=body)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_waitress(serve: Any, chunked: bool) -> None:
    """waitress decodes a chunked body itself and sends a Content-Length."""
    server = serve("e2e_body_size_apps:app")
    status, _, body = _post(server.port, [b"x" * 500, b"y" * 524], chunked)
    assert (status, body) == (200, b"read 1024 bytes\n")
    status, content_type, body = _post(server.port, [b"x" * 600, b"y" * 600], chunked)
    assert (status, content_type) == (413, "application/problem+json")
    assert json.loads(body)["status"] == 413


@pytest.fixture
def gunicorn() -> Iterator[Callable[[str], int]]:
    """Start gunicorn (which hands chunked bodies on undecoded) on 127.0.0.1;
    stopped by PID after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(target: str) -> int:
        port = free_port()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS_DIR), str(ROOT)]))
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                target,
            ],
            cwd=str(TESTS_DIR),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert process.poll() is None, "gunicorn exited early"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return port
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start in time")

    yield start
    for process in processes:
        stop_by_pid(process)


def test_gunicorn_chunked_upload(gunicorn: Callable[[str], int]) -> None:
    """gunicorn: no Content-Length, the chunked body is bounded while read."""
    port = gunicorn("e2e_body_size_apps:plain")
    status, _, body = _post(port, [b"x" * 500, b"y" * 524], chunked=True)
    assert (status, body) == (200, b"read 1024 bytes\n")
    status, content_type, body = _post(port, [b"x" * 600, b"y" * 600], chunked=True)
    assert (status, content_type) == (413, "text/plain; charset=utf-8")
    assert body == b"The request body is larger than the limit of 1024 bytes.\n"


# --- review fixes -------------------------------------------------------------------

H2 = {"wsgi.input_terminated": True}  # an HTTP/2 front end: no length, no chunking


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("size", [10, 11, 1000])
def test_a_body_without_length_on_a_terminated_input_is_bounded(method: str, size: int) -> None:
    reader = Reader()
    data = (b"x" * 1000)[:size]
    status, _, body = call(
        validator(MaxBodySize(reader, LIMIT)), lint=False, body=data, REQUEST_METHOD=method, **H2
    )
    if size <= LIMIT:
        assert (status, body) == ("200 OK", data)
    else:
        assert status == "413 Content Too Large"
        assert reader.seen == []


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_and_head_without_length_pass_through_untouched(method: str) -> None:
    result_body = [b""]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        assert type(environ["wsgi.input"]) is io.BytesIO
        start_response("200 OK", [])
        return result_body

    _, _, result = run_wsgi(MaxBodySize(app, LIMIT), {"REQUEST_METHOD": method, **H2})
    assert result is result_body


def test_a_post_without_length_on_an_unterminated_input_has_no_body() -> None:
    """Without ``wsgi.input_terminated`` (nor a length) there is no body: untouched."""
    reader = Reader(lambda stream: type(stream).__name__.encode())
    status, _, body = call(
        MaxBodySize(reader, LIMIT), lint=False, body=b"x" * 100, REQUEST_METHOD="POST"
    )
    assert (status, body) == ("200 OK", b"BytesIO")


@given(limit=st.integers(0, 10**7), length=st.from_regex(r"\A[0-9]{1,10}\Z"))
def test_a_declared_length_passes_exactly_when_int_says_it_is_within_the_limit(
    limit: int, length: str
) -> None:
    """A length with fewer digits than the limit passes without being parsed;
    whatever the digits and leading zeros, the answer is int()'s."""
    reached: list[bool] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        reached.append(True)
        start_response("200 OK", [])
        return []

    environ = make_environ(REQUEST_METHOD="POST", CONTENT_LENGTH=length)
    calls, _, _ = run_wsgi(MaxBodySize(app, limit), environ)
    within = int(length) <= limit
    assert reached == ([True] if within else [])
    assert calls[0][0] == ("200 OK" if within else "413 Content Too Large")


class _ReadingBody:
    """An app iterable that reads the request body when iterated, and counts
    its close() calls."""

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.environ = environ
        self.closes = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.environ["wsgi.input"].read()

    def close(self) -> None:
        self.closes += 1


def test_a_body_over_the_limit_read_while_iterating_closes_the_app_once() -> None:
    bodies: list[_ReadingBody] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        bodies.append(_ReadingBody(environ))
        return bodies[0]

    status, _, _ = call(linted(MaxBodySize(app, LIMIT)), lint=False, body=b"x" * 11, **CHUNKED)
    assert status == "413 Content Too Large"
    assert bodies[0].closes == 1


def test_a_body_over_the_limit_read_after_write_is_reraised() -> None:
    """Bytes went out through write(): no 413 can replace the response."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"started")
        return [environ["wsgi.input"].read()]

    with pytest.raises(BodyTooLarge):
        call(MaxBodySize(app, LIMIT), lint=False, body=b"x" * 11, **CHUNKED)
