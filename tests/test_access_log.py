"""AccessLog: one line per finished request, combined (as Paste's translogger)
or JSON, with the bytes actually sent, every client value escaped."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any
from urllib.parse import quote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
from helpers import (
    Tracked,
    exc_info_app,
    late_exc_info_app,
    lazy_app,
    make_environ,
    raising_app,
    run_wsgi,
    testapp,
    text_app,
    tracked_app,
)
from hypothesis import given
from hypothesis import strategies as st
from paste.translogger import TransLogger

import wsgikit.access_log as access_log_module
from wsgikit import AccessLog, JSONErrors, ProxyFix, RequestID
from wsgikit._http import log_escape

#: Apache combined: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i".
QUOTED = r'"((?:[^"\\]|\\.)*)"'
COMBINED = re.compile(
    rf"(\S+) (\S+) (\S+) \[([^\]]+)\] {QUOTED} (\S+) (\S+) {QUOTED} {QUOTED}", re.ASCII
)
FIXED_TIME = 1_765_000_000.25  # 2025-12-06T05:46:40.250Z


class Lines(logging.Handler):
    """Collects formatted records of one logger."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(record.getMessage())


@pytest.fixture
def access() -> Iterator[Lines]:
    """The lines written on logger ``wsgikit.access`` (INFO enabled)."""
    logger = logging.getLogger("wsgikit.access")
    handler = Lines()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    """``time.time()`` and ``time.localtime()`` fixed at ``FIXED_TIME``, in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    real = time.localtime
    monkeypatch.setattr(time, "time", lambda: FIXED_TIME)
    monkeypatch.setattr(
        time, "localtime", lambda secs=None: real(FIXED_TIME if secs is None else secs)
    )
    yield FIXED_TIME
    monkeypatch.undo()
    time.tzset()


def unescape(field: str) -> str:
    """Read back a field escaped as Apache does (bytes as latin-1 text)."""
    simple = {"b": b"\b", "t": b"\t", "n": b"\n", "v": b"\v", "r": b"\r", '"': b'"', "\\": b"\\"}
    out = bytearray()
    index = 0
    while index < len(field):
        char = field[index]
        if char != "\\":
            out += char.encode("ascii")
            index += 1
        elif field[index + 1] == "x":
            out.append(int(field[index + 2 : index + 4], 16))
            index += 4
        else:
            out += simple[field[index + 1]]
            index += 2
    return out.decode("latin-1")


def request_line_fields(line: str) -> tuple[str, ...]:
    match = COMBINED.fullmatch(line)
    assert match, line
    return match.groups()


# --- the combined format --------------------------------------------------------


def test_combined_line_is_byte_for_byte_translogger_s(access: Lines, frozen: float) -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/shop",
        "PATH_INFO": "/items/a b",
        "QUERY_STRING": "q=1&sort=price",
        "REMOTE_ADDR": "203.0.113.7",
        "REMOTE_USER": "alice",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://example.com/?from=home",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
    }
    theirs = Lines()
    paste_logger = logging.getLogger("test.translogger")
    paste_logger.addHandler(theirs)
    paste_logger.setLevel(logging.INFO)
    paste_logger.propagate = False
    try:
        run_wsgi(TransLogger(text_app(b"x" * 1234), logger=paste_logger), environ)
    finally:
        paste_logger.removeHandler(theirs)
    run_wsgi(AccessLog(text_app(b"x" * 1234)), environ)
    assert access.lines == theirs.lines
    assert access.lines == [
        '203.0.113.7 - alice [06/Dec/2025:05:46:40 +0000] "POST /shop/items/a%20b?q=1&sort=price'
        ' HTTP/1.1" 200 1234 "https://example.com/?from=home"'
        ' "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"'
    ]


def test_missing_values_are_dashes(access: Lines, frozen: float) -> None:
    run_wsgi(AccessLog(text_app(b"")), {"REMOTE_ADDR": "", "SERVER_PROTOCOL": ""})
    assert access.lines == ['- - - [06/Dec/2025:05:46:40 +0000] "GET / -" 200 - "-" "-"']


def test_time_is_local_with_its_offset(
    access: Lines, frozen: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half-hour zones too (translogger writes a wrong offset for those)."""
    monkeypatch.setenv("TZ", "IST-5:30")  # POSIX form: no tzdata needed
    time.tzset()
    run_wsgi(AccessLog(text_app()))
    assert "[06/Dec/2025:11:16:40 +0530]" in access.lines[0]


def test_month_names_are_english_whatever_the_locale(access: Lines, frozen: float) -> None:
    run_wsgi(AccessLog(text_app()))
    assert "/Dec/" in access.lines[0]


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        pytest.param("/plain-path_1.2~x/", "/plain-path_1.2~x/", id="plain"),
        pytest.param("/caf\xc3\xa9", "/caf%C3%A9", id="UTF-8 bytes as sent"),
        pytest.param('/a"b', "/a%22b", id="quote"),
        pytest.param("/a\nb", "/a%0Ab", id="newline"),
        pytest.param("/\u20ac", "/%E2%82%AC", id="not latin-1: UTF-8"),
    ],
)
def test_path_is_percent_encoded_from_its_original_bytes(
    access: Lines, path: str, logged: str
) -> None:
    run_wsgi(AccessLog(text_app()), {"PATH_INFO": path})
    assert f'"GET {logged} HTTP/1.1"' in access.lines[0]


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        pytest.param({"HTTP_USER_AGENT": 'a" 200 1 "x'}, r'"a\" 200 1 \"x"', id="quote in UA"),
        pytest.param({"HTTP_REFERER": "a\\b"}, r'"a\\b"', id="backslash"),
        pytest.param({"HTTP_USER_AGENT": "a\r\nGET / b"}, r'"a\r\nGET / b"', id="CRLF"),
        pytest.param({"HTTP_USER_AGENT": "\x1b[31mred"}, r'"\x1b[31mred"', id="terminal escape"),
        pytest.param({"HTTP_USER_AGENT": "caf\xe9"}, r'"caf\xe9"', id="latin-1 byte"),
        pytest.param({"QUERY_STRING": 'a="b"'}, r"/?a=\"b\" ", id="query"),
        pytest.param({"REMOTE_USER": "bob smith"}, r" bob\x20smith [", id="space in user"),
        pytest.param({"REMOTE_USER": "j\xf6rg"}, r" j\xf6rg [", id="user latin-1"),
        pytest.param({"REMOTE_USER": "\u00e9\u4e2d"}, r" \xc3\xa9\xe4\xb8\xad [", id="user UTF-8"),
        pytest.param({"REQUEST_METHOD": 'G"T'}, r'"G\"T /', id="method"),
    ],
)
def test_client_values_are_escaped(access: Lines, environ: dict[str, str], fragment: str) -> None:
    run_wsgi(AccessLog(text_app()), environ)
    assert fragment in access.lines[0]
    assert COMBINED.fullmatch(access.lines[0])


# --- when, and with what -----------------------------------------------------------


def test_line_is_written_when_the_response_is_closed(access: Lines) -> None:
    tracked = Tracked([b"ab", b"cde"])
    environ = make_environ()
    result = AccessLog(tracked_app(tracked))(environ, lambda s, h, e=None: lambda d: None)
    chunks = list(result)
    assert chunks == [b"ab", b"cde"] and access.lines == []
    result.close()  # type: ignore[attr-defined]
    result.close()  # type: ignore[attr-defined]
    assert tracked.closes == 1
    assert len(access.lines) == 1 and request_line_fields(access.lines[0])[5:7] == ("200", "5")


def test_bytes_are_those_the_server_pulled(access: Lines) -> None:
    """A client gone after the first chunk: the server closes early."""
    tracked = Tracked([b"ab", b"cde", b"fgh"])
    result = AccessLog(tracked_app(tracked))(make_environ(), lambda s, h, e=None: lambda d: None)
    iterator = iter(result)
    next(iterator)
    result.close()  # type: ignore[attr-defined]
    assert tracked.closes == 1
    assert request_line_fields(access.lines[0])[5:7] == ("200", "2")


def test_closed_without_iterating_logs_no_bytes(access: Lines) -> None:
    tracked = Tracked([b"ab"])
    run_wsgi(AccessLog(tracked_app(tracked)), consume=False)
    assert tracked.closes == 1
    assert request_line_fields(access.lines[0])[5:7] == ("200", "-")


def test_bytes_are_counted_not_taken_from_content_length(access: Lines) -> None:
    def lying_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "999")])
        return [b"four"]

    run_wsgi(AccessLog(lying_app))
    assert request_line_fields(access.lines[0])[6] == "4"


@pytest.mark.parametrize(
    ("app", "status", "size"),
    [
        pytest.param(lazy_app(), "200", "9", id="lazy generator"),
        pytest.param(exc_info_app(), "500", "22", id="exc_info replacement"),
        pytest.param(text_app(status="404 Not Found"), "404", "13", id="404"),
    ],
)
def test_status_and_size_for_each_kind_of_app(
    access: Lines, app: WSGIApplication, status: str, size: str
) -> None:
    run_wsgi(AccessLog(app))
    assert request_line_fields(access.lines[0])[5:7] == (status, size)


def test_head_logs_no_bytes(access: Lines) -> None:
    run_wsgi(AccessLog(text_app()), {"REQUEST_METHOD": "HEAD"})
    assert request_line_fields(access.lines[0])[5:7] == ("200", "-")


def test_exception_from_the_app_is_logged_as_500_and_reraised(access: Lines) -> None:
    with pytest.raises(RuntimeError):
        run_wsgi(AccessLog(raising_app))
    assert request_line_fields(access.lines[0])[5:7] == ("500", "-")


@pytest.mark.parametrize(
    ("fail_at", "status", "size"),
    [
        pytest.param(0, "500", "-", id="before the first byte"),
        pytest.param(1, "200", "2", id="after the first chunk"),
    ],
)
def test_exception_while_iterating(access: Lines, fail_at: int, status: str, size: str) -> None:
    tracked = Tracked([b"ab", b"cd"], fail_at=fail_at)
    with pytest.raises(RuntimeError):
        run_wsgi(AccessLog(tracked_app(tracked)))
    assert tracked.closes == 1
    assert request_line_fields(access.lines[0])[5:7] == (status, size)


def test_a_replacement_the_server_refuses_keeps_the_status_sent(access: Lines) -> None:
    # it fails after its first chunk and asks for a 500 the server must refuse
    app = late_exc_info_app(
        b"ab", b"never", content_type="text/plain", error_headers=(), error=RuntimeError
    )
    with pytest.raises(RuntimeError, match="failed after the body started"):
        run_wsgi(AccessLog(app))
    assert request_line_fields(access.lines[0])[5:7] == ("200", "2")


_SAME_FIELDS = (
    "name",
    "levelno",
    "levelname",
    "pathname",
    "filename",
    "module",
    "lineno",
    "funcName",
    "args",
    "exc_info",
    "exc_text",
    "stack_info",
    "process",
    "processName",
)


def test_records_are_those_make_record_makes(access: Lines) -> None:
    app = AccessLog(text_app())
    run_wsgi(app)  # the first record, made by makeRecord
    names: list[str] = []

    def in_a_thread() -> None:
        run_wsgi(app)  # later ones: copies, with their own time and thread
        names.append(threading.current_thread().name)

    worker = threading.Thread(target=in_a_thread, name="worker-7")
    worker.start()
    worker.join()
    logger = logging.getLogger("wsgikit.access")
    expected = logger.makeRecord(logger.name, logging.INFO, "(access log)", 0, "x", (), None)
    first, second = access.records
    assert type(second) is logging.LogRecord
    formatted = {"message", "asctime"}  # set by the handlers' formatters
    assert set(vars(second)) - formatted == set(vars(expected))
    for field in _SAME_FIELDS:
        assert getattr(second, field) == getattr(expected, field), field
    assert (second.threadName, second.thread) == ("worker-7", worker.ident)
    assert first.created <= second.created <= expected.created
    assert second.msecs == int((second.created - int(second.created)) * 1000)
    assert second.relativeCreated == pytest.approx(
        first.relativeCreated + (second.created - first.created) * 1000
    )


def test_a_custom_record_factory_makes_every_record(access: Lines) -> None:
    made: list[logging.LogRecord] = []
    standard = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = standard(*args, **kwargs)
        record.tenant = "acme"
        made.append(record)
        return record

    app = AccessLog(text_app())
    run_wsgi(app)
    logging.setLogRecordFactory(factory)
    try:
        run_wsgi(app)
        run_wsgi(app)
    finally:
        logging.setLogRecordFactory(standard)
    assert access.records[1:] == made
    assert [getattr(record, "tenant", None) for record in access.records] == [None, "acme", "acme"]


def test_a_forked_child_logs_its_own_process_id(
    access: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = AccessLog(text_app())
    run_wsgi(app)
    monkeypatch.setattr(os, "getpid", lambda: 424242)
    access_log_module._forked()  # what os.register_at_fork runs in a child
    run_wsgi(app)
    run_wsgi(app)
    assert [record.process for record in access.records[1:]] == [424242, 424242]


def test_json_errors_inside_is_logged_with_its_status(access: Lines) -> None:
    response = testapp(raising_app, AccessLog, JSONErrors).get("/", status=500, expect_errors=True)
    assert request_line_fields(access.lines[0])[5:7] == ("500", str(len(response.body)))


def test_client_and_user_are_those_decided_inside(access: Lines) -> None:
    """ProxyFix and an auth layer inside AccessLog: read when the line is written."""

    def login(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["REMOTE_USER"] = "carol"
        return text_app()(environ, start_response)

    testapp(login, AccessLog, ProxyFix).get(
        "/", headers={"X-Forwarded-For": "198.51.100.9"}, extra_environ={"REMOTE_ADDR": "10.0.0.1"}
    )
    client, _, user = request_line_fields(access.lines[0])[:3]
    assert (client, user) == ("198.51.100.9", "carol")


def test_request_line_is_the_one_the_client_sent(access: Lines) -> None:
    def rewrite(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["REQUEST_METHOD"] = "DELETE"
        environ["PATH_INFO"] = "/internal"
        return text_app()(environ, start_response)

    run_wsgi(AccessLog(rewrite), {"REQUEST_METHOD": "POST", "PATH_INFO": "/items/1"})
    assert request_line_fields(access.lines[0])[4] == "POST /items/1 HTTP/1.1"


# --- wsgi.file_wrapper --------------------------------------------------------------


class FileWrapper:
    """A server's file wrapper (the server would sendfile() it)."""

    def __init__(self, filelike: Any, block_size: int = 8192) -> None:
        self.filelike = filelike
        self.closes = 0

    def __iter__(self) -> Iterator[bytes]:
        return iter([b"0123456789"])

    def close(self) -> None:
        self.closes += 1


class SlottedWrapper:
    """A file wrapper that takes no new attribute."""

    __slots__ = ()

    def __init__(self, filelike: Any, block_size: int = 8192) -> None:
        pass

    def __iter__(self) -> Iterator[bytes]:
        return iter([b"0123456789"])

    def close(self) -> None:
        pass


def file_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return environ["wsgi.file_wrapper"](None)  # type: ignore[no-any-return]


def test_file_wrapper_reaches_the_server_and_is_logged_when_closed(access: Lines) -> None:
    environ = make_environ(**{"wsgi.file_wrapper": FileWrapper})
    result = AccessLog(file_app)(environ, lambda s, h, e=None: lambda d: None)
    assert type(result) is FileWrapper
    assert access.lines == []
    result.close()  # type: ignore[attr-defined]
    result.close()  # type: ignore[attr-defined]
    assert result.closes == 2  # type: ignore[attr-defined]  # the original ran each time
    assert len(access.lines) == 1
    assert request_line_fields(access.lines[0])[5:7] == ("200", "10")


def test_file_wrapper_that_takes_no_attribute_is_logged_at_once(access: Lines) -> None:
    environ = make_environ(**{"wsgi.file_wrapper": SlottedWrapper})
    result = AccessLog(file_app)(environ, lambda s, h, e=None: lambda d: None)
    assert type(result) is SlottedWrapper
    assert request_line_fields(access.lines[0])[5:7] == ("200", "10")


# --- JSON and callables ---------------------------------------------------------------


def test_json_line(access: Lines, frozen: float) -> None:
    environ = {
        "PATH_INFO": "/a b",
        "QUERY_STRING": "x=1",
        "REMOTE_USER": "alice",
        "HTTP_USER_AGENT": 'curl/8 "quoted"\n',
        "HTTP_X_REQUEST_ID": "req-7",
    }
    run_wsgi(RequestID(AccessLog(text_app(), format="json")), environ)
    (line,) = access.lines
    assert line.isascii() and "\n" not in line
    entry = json.loads(line)
    duration = entry.pop("duration_ms")
    assert isinstance(duration, float) and duration >= 0
    assert entry == {
        "time": "2025-12-06T05:46:40.250+00:00",
        "client": "127.0.0.1",
        "user": "alice",
        "method": "GET",
        "uri": "/a%20b?x=1",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes": 13,
        "referer": None,
        "user_agent": 'curl/8 "quoted"\n',
        "request_id": "req-7",
    }


def test_callable_format_gets_the_raw_values(access: Lines) -> None:
    seen: list[dict[str, Any]] = []

    def fmt(entry: Any) -> str:
        seen.append(dict(entry))
        return f"{entry['method']} {entry['status']} {entry['request_id']}"

    run_wsgi(RequestID(AccessLog(text_app(), format=fmt)), {"HTTP_X_REQUEST_ID": "r-9"})
    assert access.lines == ["GET 200 r-9"]
    entry = seen[0]
    assert entry["bytes"] == 13 and entry["user"] is None and entry["environ"]["PATH_INFO"] == "/"
    assert isinstance(entry["time"], float) and isinstance(entry["duration"], float)


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param(lambda entry: 1 / 0, id="raises"),
        pytest.param(lambda entry: b"bytes", id="not a str"),
    ],
)
def test_failing_callable_falls_back_to_combined(
    access: Lines, fmt: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="wsgikit.access_log"):
        run_wsgi(AccessLog(text_app(), format=fmt))
    assert COMBINED.fullmatch(access.lines[0])
    assert "format callable" in caplog.text


def test_logger_option_takes_a_name_or_a_logger(access: Lines) -> None:
    other = logging.getLogger("test.access.other")
    handler = Lines()
    other.addHandler(handler)
    other.setLevel(logging.INFO)
    try:
        run_wsgi(AccessLog(text_app(), logger=other))
        run_wsgi(AccessLog(text_app(), logger="test.access.other"))
    finally:
        other.removeHandler(handler)
    assert len(handler.lines) == 2 and access.lines == []
    assert handler.records[0].levelno == logging.INFO


def test_disabled_logger_passes_through_untouched() -> None:
    logger = logging.getLogger("test.access.off")
    logger.setLevel(logging.WARNING)
    body = [b"x"]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return body

    _, _, result = run_wsgi(AccessLog(app, logger=logger))
    assert result is body


def test_works_under_lint_with_real_frameworks(access: Lines, framework_app: Any) -> None:
    app = testapp(framework_app, RequestID, AccessLog)
    response = app.get("/missing", status=404)
    fields = request_line_fields(access.lines[0])
    assert fields[4] == "GET /missing HTTP/1.0" and fields[5] == "404"
    assert fields[6] == str(len(response.body))


# --- a client cannot forge or split a line ------------------------------------------------

LATIN1 = st.text(st.characters(max_codepoint=255), max_size=40)


@given(
    method=LATIN1,
    path=LATIN1,
    query=LATIN1,
    addr=LATIN1,
    user=LATIN1,
    protocol=LATIN1,
    referer=LATIN1,
    agent=LATIN1,
)
def test_any_client_values_give_one_readable_line(
    method: str,
    path: str,
    query: str,
    addr: str,
    user: str,
    protocol: str,
    referer: str,
    agent: str,
) -> None:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": addr,
        "REMOTE_USER": user,
        "SERVER_PROTOCOL": protocol,
        "HTTP_REFERER": referer,
        "HTTP_USER_AGENT": agent,
    }
    logger = logging.getLogger("test.access.property")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for fmt in ("combined", "json"):
        handler = Lines()
        logger.addHandler(handler)
        try:
            run_wsgi(AccessLog(text_app(), logger=logger, format=fmt), environ)
        finally:
            logger.removeHandler(handler)
        (line,) = handler.lines
        assert line.isascii() and line.isprintable()
        uri = quote(path.encode("latin-1"), safe="/") + (f"?{query}" if query else "")
        if fmt == "json":
            entry = json.loads(line)
            assert (entry["method"], entry["uri"], entry["protocol"]) == (
                method or None,
                uri,
                protocol or None,
            )
            assert (entry["client"], entry["user"]) == (addr or None, user or None)
            assert (entry["referer"], entry["user_agent"]) == (referer or None, agent or None)
            continue
        h, ident, u, _, request, status, size, ref, ua = request_line_fields(line)
        assert (unescape(h), ident, unescape(u)) == (addr or "-", "-", user or "-")
        assert unescape(request) == f"{method or '-'} {uri} {protocol or '-'}"
        assert (status, size) == ("200", "13")
        assert (unescape(ref), unescape(ua)) == (referer, agent)


@given(st.text(max_size=60))
def test_log_escape_reads_back(value: str) -> None:
    for quoted in (True, False):
        escaped = log_escape(value, quoted=quoted)
        assert escaped.isascii() and escaped.isprintable()
        assert '"' not in escaped.replace('\\"', "")
        if not quoted:
            assert " " not in escaped
        try:
            original = value.encode("latin-1")
        except UnicodeEncodeError:
            original = value.encode("utf-8", "surrogatepass")
        assert unescape(escaped).encode("latin-1") == original


def test_translogger_and_access_log_in_one_stack(access: Lines) -> None:
    """Both wrappers together keep PEP 3333 (lint on both sides)."""
    app = testapp(text_app(), partial(TransLogger, setup_console_handler=False), AccessLog)
    app.get("/")
    assert len(access.lines) == 1


# --- a real server ------------------------------------------------------------------------


def test_waitress_logs_each_request_when_finished(serve: Any) -> None:
    """waitress sends the file wrapper itself (sendfile path) and closes it
    once sent: the line comes then, with the request ID."""
    server = serve("e2e_access_log_apps:app")
    listed = server.get("/list", headers={"X-Request-ID": "e2e-list"})
    assert listed.read() == b"hello"
    sent = server.get("/file", headers={"X-Request-ID": "e2e-file"})
    assert sent.read() == b"0123456789" * 1000
    # waitress closes the file wrapper (and so writes the line) just after the
    # last byte went out, on its own thread: give it a moment before stopping.
    time.sleep(0.5)
    output = server.stop()
    entries = {
        entry["request_id"]: entry
        for entry in (
            json.loads(line[len("ACCESS ") :])
            for line in output.splitlines()
            if line.startswith("ACCESS ")
        )
    }
    assert entries["e2e-list"]["bytes"] == 5 and entries["e2e-list"]["uri"] == "/list"
    assert entries["e2e-file"]["bytes"] == 10000 and entries["e2e-file"]["status"] == 200


def test_the_whole_edge_stack(access: Lines) -> None:
    """RequestID, AccessLog, JSONErrors, MaxBodySize: a body over the limit is
    a 413 problem carrying the request ID, logged with the bytes sent."""
    from wsgikit import MaxBodySize

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(100)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    client = testapp(
        app,
        RequestID,
        partial(AccessLog, format="json"),
        JSONErrors,
        partial(MaxBodySize, limit=10),
    )
    response = client.post("/upload", b"x" * 11, headers={"X-Request-ID": "up-1"}, status=413)
    assert response.json["request_id"] == "up-1" == response.headers["X-Request-ID"]
    entry = json.loads(access.lines[0])
    assert (entry["status"], entry["bytes"], entry["request_id"]) == (
        413,
        len(response.body),
        "up-1",
    )
