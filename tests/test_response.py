"""The response-interception core (wsgikit._response), tested directly."""

from __future__ import annotations

import io
import itertools
import sys
from collections.abc import Iterable, Iterator
from typing import Any, cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgiref.util import FileWrapper
from wsgiref.validate import validator

import pytest
from helpers import (
    APP_KINDS,
    Handshake,
    Tracked,
    error_first_app,
    exc_info_app,
    late_exc_info_app,
    lazy_app,
    linted,
    make_environ,
    run_wsgi,
    testapp,
    text_app,
    tracked_app,
    write_app,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgikit._bodies import guard
from wsgikit._edit import intercept_headers
from wsgikit._http import get_header, media_type
from wsgikit._response import (
    Buffer,
    EditHeaders,
    Headers,
    Plan,
    Stream,
    intercept,
)

# --- plans used by the tests ----------------------------------------------------


def upper_finish(status: str, headers: Headers, body: bytes) -> tuple[str, Headers, bytes]:
    return status, headers, body.upper() + b"!"


def upper_transform(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.upper()


def decide_pass(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
    return None


def decide_edit(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
    return EditHeaders(status, [*headers, ("X-Edited", "yes")])


def decide_buffer(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
    return Buffer(upper_finish)


def decide_stream(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
    return Stream(status, [*headers, ("X-Streamed", "yes")], upper_transform)


def decide_buffer_html(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
    """Buffer text/html only: lets replacement tests change the plan."""
    return Buffer(upper_finish) if media_type(headers) == "text/html" else None


PLANS = [
    pytest.param(decide_pass, id="pass"),
    pytest.param(decide_edit, id="edit-headers"),
    pytest.param(decide_buffer, id="buffer"),
    pytest.param(decide_stream, id="stream"),
]


class Intercepting:
    """A minimal middleware made of nothing but the core."""

    def __init__(self, app: WSGIApplication, decide: Any) -> None:
        self.app = app
        self.decide = decide
        self.decisions: list[str] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def decide(env: WSGIEnvironment, status: str, headers: Headers) -> Plan:
            self.decisions.append(status)
            return self.decide(env, status, headers)

        return intercept(self.app, environ, start_response, decide)


def layer(decide: Any) -> Any:
    return lambda app: Intercepting(app, decide)


def expected_body(decide: Any, body: bytes) -> bytes:
    if decide is decide_buffer:
        return body.upper() + b"!"
    if decide is decide_stream:
        return body.upper()
    return body


# --- every plan, every kind of app, lint on both sides -----------------------------


@pytest.mark.parametrize("decide", PLANS)
def test_list_app_through_each_plan(decide: Any) -> None:
    response = testapp(text_app(b"hello"), layer(decide)).get("/")
    assert response.body == expected_body(decide, b"hello")
    # What the server received (WebTest fills in a Content-Length of its own).
    calls, _, _ = run_wsgi(linted(text_app(b"hello"), layer(decide)))
    [(_, headers)] = calls
    if decide is decide_stream:
        assert get_header(headers, "Content-Length") is None
        assert get_header(headers, "X-Streamed") == "yes"
    else:
        assert get_header(headers, "Content-Length") == str(len(response.body))
    if decide is decide_edit:
        assert get_header(headers, "X-Edited") == "yes"


@pytest.mark.parametrize("decide", PLANS)
def test_lazy_generator_app_through_each_plan(decide: Any) -> None:
    response = testapp(lazy_app([b"lazy ", b"body"]), layer(decide)).get("/")
    assert response.body == expected_body(decide, b"lazy body")


@pytest.mark.parametrize("decide", PLANS)
def test_write_callable_output_keeps_its_order(decide: Any) -> None:
    app = write_app(written=[b"one ", b"two "], returned=[b"three"])
    response = testapp(app, layer(decide)).get("/")
    assert response.body == expected_body(decide, b"one two three")


@pytest.mark.parametrize("decide", PLANS)
def test_empty_iterable(decide: Any) -> None:
    response = testapp(text_app(b""), layer(decide)).get("/")
    assert response.body == expected_body(decide, b"")
    if decide is not decide_stream:
        assert response.headers["Content-Length"] == str(len(response.body))


@pytest.mark.parametrize("decide", PLANS)
def test_inner_iterable_closed_exactly_once(decide: Any) -> None:
    tracked = Tracked([b"a", b"b", b"c"])
    calls, body, _ = run_wsgi(linted(tracked_app(tracked), layer(decide)))
    assert tracked.closes == 1
    assert b"".join(body) == expected_body(decide, b"abc")
    assert len(calls) == 1


@pytest.mark.parametrize("decide", PLANS)
def test_closed_once_when_the_server_never_iterates(decide: Any) -> None:
    tracked = Tracked([b"a", b"b"])
    run_wsgi(Intercepting(tracked_app(tracked), decide), consume=False)
    assert tracked.closes == 1


@pytest.mark.parametrize("decide", PLANS)
def test_closed_once_when_the_app_raises_mid_body(decide: Any) -> None:
    tracked = Tracked([b"a", b"b", b"c"], fail_at=1)
    with pytest.raises(RuntimeError, match="boom at chunk 1"):
        run_wsgi(Intercepting(tracked_app(tracked), decide))
    assert tracked.closes == 1


@pytest.mark.parametrize("decide", PLANS)
def test_app_raising_before_start_response_propagates(decide: Any) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raise KeyError("nope")

    with pytest.raises(KeyError):
        run_wsgi(Intercepting(app, decide))


def test_lazy_app_raising_on_first_iteration_is_closed_and_propagates() -> None:
    closed: list[bool] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        try:
            start_response("200 OK", [("Content-Type", "text/html")])
            raise ValueError("first chunk failed")
            yield b""  # pragma: no cover - makes this a generator
        finally:
            closed.append(True)

    with pytest.raises(ValueError, match="first chunk failed"):
        run_wsgi(Intercepting(app, decide_buffer))
    assert closed == [True]


def test_app_that_never_calls_start_response_is_an_error() -> None:
    tracked = Tracked([])

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return tracked

    with pytest.raises(RuntimeError, match="without calling start_response"):
        run_wsgi(Intercepting(app, decide_buffer))
    assert tracked.closes == 1


def decide_failing(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
    raise LookupError("decide failed")


@pytest.mark.parametrize(
    ("decide", "first_call_failed"),
    [
        pytest.param(decide_buffer, False, id="decided"),
        # The status counts as given once start_response was called, even if
        # decide() failed: a second call without exc_info is refused, as always.
        pytest.param(decide_failing, True, id="decide failed"),
    ],
)
def test_second_start_response_without_exc_info_is_refused(
    decide: Any, first_call_failed: bool
) -> None:
    failed: list[bool] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            start_response("200 OK", [("Content-Type", "text/plain")])
        except LookupError:
            failed.append(True)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    with pytest.raises(RuntimeError, match="twice"):
        run_wsgi(Intercepting(app, decide))
    assert bool(failed) is first_call_failed


# --- pass-through really is pass-through --------------------------------------------


@pytest.mark.parametrize("decide", [decide_pass, decide_edit], ids=["pass", "edit-headers"])
def test_pass_through_returns_the_apps_own_iterable(decide: Any) -> None:
    tracked = Tracked([b"x"])
    _, _, result = run_wsgi(Intercepting(tracked_app(tracked), decide))
    assert result is tracked


def test_pass_through_keeps_wsgi_file_wrapper() -> None:
    """A server's sendfile optimisation sees its own file_wrapper object."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](io.BytesIO(b"file data"))
        return wrapper

    calls, body, result = run_wsgi(
        Intercepting(app, decide_pass), {"wsgi.file_wrapper": FileWrapper}
    )
    assert isinstance(result, FileWrapper)
    assert b"".join(body) == b"file data"


@pytest.mark.parametrize(
    "decide", [decide_pass, decide_edit, decide_stream], ids=["pass", "edit-headers", "stream"]
)
def test_streaming_plans_do_not_buffer(decide: Any) -> None:
    handshake = Handshake()
    seen = handshake.drive(validator(Intercepting(validator(handshake), decide)))
    assert handshake.second_produced
    assert b"".join(seen).lower() == b"firstsecond"


def test_pass_through_gives_the_app_the_servers_write() -> None:
    server_writes: list[bytes] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        return server_writes.append

    app = write_app(written=[b"direct"], returned=[])
    result = Intercepting(app, decide_pass)(make_environ(), start_response)
    assert server_writes == [b"direct"]
    assert list(result) == []


def test_pass_through_does_not_touch_the_apps_header_list() -> None:
    headers = [("Content-Type", "text/plain"), ("Content-Length", "2")]
    snapshot = list(headers)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", headers)
        return [b"ok"]

    for decide in (decide_pass, decide_edit, decide_buffer, decide_stream):
        run_wsgi(Intercepting(app, decide))
        assert headers == snapshot


# --- buffering --------------------------------------------------------------------


def test_buffer_replaces_every_content_length() -> None:
    app = text_app(b"abc", headers=[("content-length", "3")])
    calls, body, _ = run_wsgi(Intercepting(app, decide_buffer))
    lengths = [value for name, value in calls[0][1] if name.lower() == "content-length"]
    assert lengths == ["4"]
    assert body == [b"ABC!"]


def test_buffer_over_the_limit_goes_out_unmodified() -> None:
    overflows: list[int] = []

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Buffer(upper_finish, limit=5, on_overflow=overflows.append)

    tracked = Tracked([b"abc", b"def", b"ghi"])
    app = tracked_app(tracked, headers=[("Content-Length", "9")])
    calls, body, _ = run_wsgi(linted(app, layer(decide)))
    assert b"".join(body) == b"abcdefghi"
    assert ("Content-Length", "9") in calls[0][1]
    assert overflows == [6]
    assert tracked.closes == 1


def test_buffer_at_exactly_the_limit_is_rewritten() -> None:
    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Buffer(upper_finish, limit=6)

    _, body, _ = run_wsgi(Intercepting(tracked_app(Tracked([b"abc", b"def"])), decide))
    assert body == [b"ABCDEF!"]


def test_failing_finish_closes_the_app_and_propagates() -> None:
    def explode(status: str, headers: Headers, body: bytes) -> tuple[str, Headers, bytes]:
        raise ZeroDivisionError("rewrite failed")

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Buffer(explode)

    tracked = Tracked([b"a"])
    server_calls: list[str] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        server_calls.append(status)
        return lambda data: None

    with pytest.raises(ZeroDivisionError):
        intercept(tracked_app(tracked), make_environ(), start_response, decide)
    assert tracked.closes == 1
    assert server_calls == []  # nothing was committed: an outer layer may still answer


@pytest.mark.parametrize(
    ("method", "status", "body", "length"),
    [
        pytest.param("HEAD", "200 OK", [], "4", id="HEAD keeps the GET length, no body"),
        pytest.param("GET", "204 No Content", [], None, id="204"),
        pytest.param("GET", "304 Not Modified", [], None, id="304"),
        pytest.param("GET", "200 OK", [b"ABC!"], "4", id="GET"),
    ],
)
def test_buffer_sends_no_body_where_none_is_allowed(
    method: str, status: str, body: list[bytes], length: str | None
) -> None:
    app = text_app(b"abc", status=status)
    calls, written, _ = run_wsgi(Intercepting(app, decide_buffer), {"REQUEST_METHOD": method})
    assert written == body
    assert get_header(calls[0][1], "Content-Length") == length


def test_head_through_every_plan_is_valid() -> None:
    """Buffered bodies are dropped for HEAD; streamed ones are left to the
    server, as the app's own body would be."""
    for decide in (decide_pass, decide_edit, decide_buffer, decide_stream):
        response = testapp(text_app(b"abc"), layer(decide)).head("/")
        if decide is decide_buffer:
            assert response.body == b""
            assert response.headers["Content-Length"] == "4"


# --- start_response(..., exc_info) ----------------------------------------------------


def test_exc_info_replacement_before_commit_wins_and_is_decided_again() -> None:
    """Buffering: nothing reached the server, so the app's error page replaces
    its first response and the plan is decided afresh for the new status."""
    middleware = Intercepting(exc_info_app(content_type="text/html"), decide_buffer_html)
    calls, body, _ = run_wsgi(validator(middleware))
    assert middleware.decisions == ["200 OK", "500 Internal Server Error"]
    assert [status for status, _ in calls] == ["500 Internal Server Error"]
    assert body == [b"replacement error page"]  # text/plain now: passed through


def test_exc_info_after_pass_through_goes_to_the_server() -> None:
    received: list[tuple[str, bool]] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        received.append((status, exc_info is not None))
        return lambda data: None

    result = Intercepting(exc_info_app(), decide_pass)(make_environ(), start_response)
    assert received == [("200 OK", False), ("500 Internal Server Error", True)]
    assert list(result) == [b"replacement error page"]


def test_exc_info_after_headers_went_out_reraises() -> None:
    """The server raises when headers are out; the app sees its own exception."""
    app = late_exc_info_app(b"partial", b"never", error_headers=())
    for decide in (decide_pass, decide_stream):
        with pytest.raises(ValueError, match="failed after the body started"):
            run_wsgi(Intercepting(app, decide))


def test_exc_info_during_buffered_iteration_discards_the_old_body() -> None:
    app = late_exc_info_app(
        b"half of the page", b"error page", error_headers=[("Content-Type", "text/html")]
    )
    calls, body, _ = run_wsgi(validator(Intercepting(app, decide_buffer_html)))
    assert [status for status, _ in calls] == ["500 Internal Server Error"]
    assert body == [b"ERROR PAGE!"]


def test_exc_info_during_buffered_iteration_can_switch_to_pass_through() -> None:
    app = late_exc_info_app(b"half", b"plain ", b"error")
    calls, body, _ = run_wsgi(validator(Intercepting(app, decide_buffer_html)))
    assert [status for status, _ in calls] == ["500 Internal Server Error"]
    assert b"".join(body) == b"plain error"


def test_exc_info_replacement_accepted_mid_stream_switches_transform() -> None:
    """A stream whose transform has produced nothing yet can still be replaced."""

    def swallow_then_upper(chunks: Iterator[bytes]) -> Iterator[bytes]:
        held = b"".join(chunks)  # emits only at the end
        yield held.upper()

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        if status.startswith("200"):
            return Stream(status, headers, swallow_then_upper)
        return None

    app = late_exc_info_app(b"first response", b"second response")
    calls, body, _ = run_wsgi(validator(Intercepting(app, decide)))
    assert [status for status, _ in calls] == ["200 OK", "500 Internal Server Error"]
    assert b"".join(body) == b"second response"


def test_a_replaced_streams_transform_is_closed() -> None:
    """The transform of the response a replacement ends is closed then (its
    encoder or file freed), not left for the garbage collector."""
    made: list[ClosableTransform] = []

    def transform(chunks: Iterator[bytes]) -> ClosableTransform:
        made.append(ClosableTransform(chunks))
        return made[-1]

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Stream(status, headers, transform)

    app = late_exc_info_app(b"first response", b"second response")
    calls, body, _ = run_wsgi(validator(Intercepting(app, decide)))
    assert [status for status, _ in calls] == ["200 OK", "500 Internal Server Error"]
    assert b"".join(body) == b"second response"
    assert [transform.closed for transform in made] == [True, True]


class ClosableTransform:
    """A transform that sends the whole body at its end, as an object (which
    the test keeps alive, so only an explicit close() closes it)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks: Iterator[bytes] | None = chunks
        self.closed = False

    def __iter__(self) -> ClosableTransform:
        return self

    def __next__(self) -> bytes:
        if self.chunks is None:
            raise StopIteration
        held, self.chunks = b"".join(self.chunks), None
        return held

    def close(self) -> None:
        self.closed = True


def test_a_read_ahead_relay_closes_the_app_iterable_once_however_often_closed() -> None:
    """A lazy app's body goes back as a relay of the chunk read ahead and the
    rest; a server (or middleware) that closes it twice closes the app's once."""
    tracked = Tracked([b"lazy ", b"body"])

    class LazyTracked:
        def __init__(self, start_response: StartResponse) -> None:
            self.start_response = start_response

        def __iter__(self) -> Iterator[bytes]:
            self.start_response("200 OK", [("Content-Type", "text/plain")])
            return iter(tracked)

        def close(self) -> None:
            tracked.close()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return LazyTracked(start_response)

    calls: list[str] = []
    body = Intercepting(app, decide_pass)(
        make_environ(), lambda status, headers, exc_info=None: calls.append(status)
    )
    assert b"".join(body) == b"lazy body"
    for _ in range(2):
        body.close()  # type: ignore[attr-defined]
    assert (calls, tracked.closes) == (["200 OK"], 1)


# --- guard() -----------------------------------------------------------------------


def test_guard_replaces_an_error_before_anything_was_sent() -> None:
    tracked = Tracked([b"", b"x"], fail_at=1)
    seen: list[tuple[str, bool]] = []

    def on_error(exc: BaseException, sent: bool) -> Iterable[bytes] | None:
        seen.append((str(exc), sent))
        return [b"replacement"]

    body = guard(tracked, on_error)
    assert list(body) == [b"", b"replacement"]
    body.close()
    assert seen == [("boom at chunk 1", False)]
    assert tracked.closes == 1


def test_guard_reraises_after_bytes_were_sent() -> None:
    tracked = Tracked([b"sent", b"x"], fail_at=1)
    seen: list[bool] = []

    def on_error(exc: BaseException, sent: bool) -> Iterable[bytes] | None:
        seen.append(sent)
        return None

    body = guard(tracked, on_error)
    chunks = iter(body)
    assert next(chunks) == b"sent"
    with pytest.raises(RuntimeError, match="boom"):
        next(chunks)
    body.close()
    assert seen == [True]
    assert tracked.closes == 1


# --- properties ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=40), max_size=8),
    decide=st.sampled_from([decide_pass, decide_edit, decide_buffer, decide_stream]),
    lazy=st.booleans(),
)
def test_any_chunking_gives_the_transformed_body_and_one_close(
    chunks: list[bytes], decide: Any, lazy: bool
) -> None:
    tracked = Tracked(chunks)
    if lazy:

        def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
            try:
                start_response("200 OK", [("Content-Type", "text/html")])
                yield from tracked
            finally:
                tracked.close()

    else:
        app = tracked_app(tracked)
    calls, body, _ = run_wsgi(linted(app, layer(decide)))
    assert b"".join(body) == expected_body(decide, b"".join(chunks))
    assert tracked.closes == 1
    length = get_header(calls[0][1], "Content-Length")
    assert length is None or int(length) == len(b"".join(body))


def test_write_past_the_buffer_limit_goes_out_at_once_unmodified() -> None:
    """A legacy app writing a huge body is not held in memory: past the limit
    what was written goes to the server's write(), and so does the rest."""
    overflows: list[int] = []
    server_writes: list[bytes] = []
    statuses: list[str] = []

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Buffer(upper_finish, limit=5, on_overflow=overflows.append)

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        statuses.append(status)
        return server_writes.append

    app = write_app(written=[b"abc", b"def", b"ghi"], returned=[b"jkl"])
    result = Intercepting(app, decide)(make_environ(), start_response)
    assert server_writes == [b"abcdef", b"ghi"]
    assert list(result) == [b"jkl"]
    assert statuses == ["200 OK"]
    assert overflows == [6]


def test_replacement_after_pass_through_can_still_be_buffered() -> None:
    """An app passes a 200 through, then replaces it with a 500 before returning:
    nothing was iterated, so the 500 is buffered (and rewritten) after all, and
    the final commit carries exc_info so the server accepts it."""

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Buffer(upper_finish) if status.startswith("5") else None

    received: list[tuple[str, bool]] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        received.append((status, exc_info is not None))
        return lambda data: None

    result = Intercepting(exc_info_app(), decide)(make_environ(), start_response)
    assert list(result) == [b"REPLACEMENT ERROR PAGE!"]
    assert received == [
        ("200 OK", False),
        ("500 Internal Server Error", True),
        ("500 Internal Server Error", True),
    ]
    calls, body, _ = run_wsgi(validator(Intercepting(exc_info_app(), decide)))
    assert body == [b"REPLACEMENT ERROR PAGE!"]


def test_replacement_after_the_body_was_returned_stays_pass_through() -> None:
    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Buffer(upper_finish) if status.startswith("5") else None

    app = late_exc_info_app(b"", b"raw error")
    calls, body, _ = run_wsgi(validator(Intercepting(app, decide)))
    assert [status for status, _ in calls] == ["200 OK", "500 Internal Server Error"]
    assert b"".join(body) == b"raw error"


def test_write_overflow_while_iterating_sends_the_rest_unmodified() -> None:
    """A generator app that writes past the limit while being iterated: the
    written data went out at once, the chunks after it follow unmodified."""
    overflows: list[int] = []
    sent: list[bytes] = []

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Buffer(upper_finish, limit=4, on_overflow=overflows.append)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/html")])
        yield b"ab"
        write(b"cdef")
        yield b"gh"

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        return sent.append

    result = Intercepting(app, decide)(make_environ(), start_response)
    sent.extend(result)
    getattr(result, "close", lambda: None)()
    assert b"".join(sent) == b"abcdefgh"
    assert overflows == [6]


def test_second_replacement_after_a_buffered_one_still_carries_exc_info() -> None:
    """200 passed through, replaced by a 500 (buffered), replaced again by a 503
    that passes through: every later call to the server carries exc_info."""

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Buffer(upper_finish) if status.startswith("500") else None

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        for status in ("500 Internal Server Error", "503 Service Unavailable"):
            try:
                raise ValueError(status)
            except ValueError:
                start_response(status, [("Content-Type", "text/plain")], sys.exc_info())
        return [b"unavailable"]

    received: list[tuple[str, bool]] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        received.append((status, exc_info is not None))
        return lambda data: None

    result = Intercepting(app, decide)(make_environ(), start_response)
    assert list(result) == [b"unavailable"]
    assert received == [
        ("200 OK", False),
        ("500 Internal Server Error", True),
        ("503 Service Unavailable", True),
    ]


# --- intercept_headers: the header-only path -------------------------------------------


def _tag(environ: WSGIEnvironment, status: str, headers: Headers) -> Headers:
    return [*headers, ("X-Tag", status[:3])]


def _headers_layer(app: WSGIApplication) -> WSGIApplication:
    def layer(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return intercept_headers(app, environ, start_response, _tag)

    return layer


@pytest.mark.parametrize(
    ("app", "status"),
    # The exc_info kind replaces its 200 with a 500 before any body byte.
    [
        pytest.param(*kind.values, code, id=kind.id)
        for kind, code in zip(APP_KINDS, (200, 200, 200, 500), strict=True)
    ],
)
def test_intercept_headers_edits_every_kind_of_app(app: WSGIApplication, status: int) -> None:
    response = testapp(app, _headers_layer).get("/", status=status)
    assert response.headers["X-Tag"] == str(status)


def test_intercept_headers_returns_the_apps_iterable_and_the_servers_write() -> None:
    tracked = Tracked([b"a", b"b"])
    seen: list[Any] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(start_response("200 OK", [("Content-Type", "text/plain")]))
        return tracked

    def server_start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        return server_write

    def server_write(data: bytes) -> None:
        pass

    result = intercept_headers(app, make_environ(), server_start_response, _tag)
    assert result is tracked and seen == [server_write]


def test_intercept_headers_hands_a_replacement_to_the_server() -> None:
    """exc_info goes to the server with the replacement's edited headers."""
    calls, body, _ = run_wsgi(_headers_layer(exc_info_app()))
    assert [(status, dict(headers)["X-Tag"]) for status, headers in calls] == [
        ("200 OK", "200"),
        ("500 Internal Server Error", "500"),
    ]
    assert body == [b"replacement error page"]


def test_intercept_headers_refuses_a_second_call_before_editing() -> None:
    """The core's rule: the second call without exc_info raises, and the edit
    (which may write a session) does not run for it."""
    edits: list[str] = []

    def edit(environ: WSGIEnvironment, status: str, headers: Headers) -> Headers:
        edits.append(status)
        return [*headers]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("500 Oops", [("Content-Type", "text/plain")])
        return [b"never"]

    calls: list[str] = []

    def server_start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        calls.append(status)  # a server that would accept anything

    with pytest.raises(RuntimeError, match="called twice without exc_info"):
        intercept_headers(app, make_environ(), server_start_response, edit)
    assert edits == calls == ["200 OK"]


def test_intercept_headers_drops_exc_info_on_a_first_call() -> None:
    """An app answering an error with exc_info on its first call (Bottle does)
    gets a plain first call: nothing reached the server from this layer."""
    given: list[Any] = []

    def server_start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        given.append((status, dict(headers)["X-Tag"], exc_info))

    body = intercept_headers(error_first_app(), make_environ(), server_start_response, _tag)
    assert body == [b"error page"]
    assert given == [("500 Internal Server Error", "500", None)]


# --- the core owns replacements ----------------------------------------------------


#: Starts a text/plain 200, then replaces it with a text/html 500 while its
#: body is iterated (after an empty chunk), before any byte went out.
replaced_in_body = late_exc_info_app(
    b"", b"error page", content_type="text/plain", error_headers=[("Content-Type", "text/html")]
)


def stream_html(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
    if media_type(headers) == "text/html":
        return Stream(status, [*headers, ("X-Streamed", "yes")], upper_transform)
    return None


def test_replacement_after_the_apps_iterable_was_handed_back_is_not_transformed() -> None:
    """The server iterates the app's own iterable: a replacement whose plan
    would transform it goes out as the app made it, headers included."""
    calls, body, result = run_wsgi(validator(Intercepting(replaced_in_body, stream_html)))
    assert calls == [
        ("200 OK", [("Content-Type", "text/plain")]),
        ("500 Internal Server Error", [("Content-Type", "text/html")]),
    ]
    assert b"".join(body) == b"error page"


def test_replacement_while_streaming_is_streamed_again() -> None:
    """A streamed body can switch transforms: the replacement is transformed."""

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Stream(status, [*headers, ("X-Streamed", "yes")], upper_transform)

    calls, body, _ = run_wsgi(validator(Intercepting(replaced_in_body, decide)))
    assert [(status, get_header(headers, "X-Streamed")) for status, headers in calls] == [
        ("200 OK", "yes"),
        ("500 Internal Server Error", "yes"),
    ]
    assert b"".join(body) == b"ERROR PAGE"


@pytest.mark.parametrize("decide", PLANS)
def test_intercept_with_exc_info_commits_with_it(decide: Any) -> None:
    """A response made to replace one the server has (an error page after an
    exception) carries exc_info on the call that commits it, whatever the plan."""
    received: list[tuple[str, bool]] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        received.append((status, exc_info is not None))
        return lambda data: None

    try:
        raise ValueError("the original failure")
    except ValueError:
        result = intercept(
            text_app(b"page"), make_environ(), start_response, decide, sys.exc_info()
        )
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    assert received == [("200 OK", True)]
    assert body == expected_body(decide, b"page")


def test_intercept_with_exc_info_forgets_it_when_the_app_fails() -> None:
    """No commit happened: nothing reaches the server, and the core drops its
    reference to the exc_info (no frame <-> traceback cycle kept alive)."""
    received: list[bool] = []
    held: list[Any] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        received.append(exc_info is not None)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        held.append(start_response)  # the core's bound start_response
        raise RuntimeError("the error page failed")

    try:
        raise ValueError("the original failure")
    except ValueError:
        exc_info = sys.exc_info()
    with pytest.raises(RuntimeError, match="error page failed"):
        intercept(app, make_environ(), start_response, decide_pass, exc_info)
    assert received == []
    assert held[0].__self__.replaced is None


# --- a Stream plan's on_error --------------------------------------------------------


def failing_transform(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk == b"bad":
            raise ValueError("transform failed")
        yield chunk


class Recovering:
    """An ``on_error`` that records its calls and answers with a 502 page."""

    def __init__(self, answer: bool = True) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.answer = answer

    def __call__(self, exc: Exception, sent: bool) -> tuple[str, Headers, bytes] | None:
        self.calls.append((str(exc), sent))
        if not self.answer:
            return None
        return "502 Bad Gateway", [("Content-Type", "text/plain"), ("Content-Length", "1")], b"oops"


def stream_with(on_error: Recovering) -> Any:
    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return Stream(status, headers, failing_transform, on_error=on_error)

    return decide


@pytest.mark.parametrize(
    ("chunks", "method", "body"),
    [
        pytest.param([b"bad"], "GET", b"oops", id="first chunk"),
        pytest.param([b"", b"bad"], "GET", b"oops", id="after an empty chunk"),
        pytest.param([b"bad"], "HEAD", b"", id="HEAD: no body"),
    ],
)
def test_transform_failure_before_any_byte_sends_the_replacement(
    chunks: list[bytes], method: str, body: bytes
) -> None:
    on_error = Recovering()
    tracked = Tracked(chunks)
    calls, written, _ = run_wsgi(
        linted(tracked_app(tracked), layer(stream_with(on_error))), {"REQUEST_METHOD": method}
    )
    assert [status for status, _ in calls] == ["200 OK", "502 Bad Gateway"]
    assert get_header(calls[-1][1], "Content-Length") == "4"
    assert b"".join(written) == body
    assert on_error.calls == [("transform failed", False)]
    assert tracked.closes == 1


@pytest.mark.parametrize("answer", [True, False], ids=["replacement ignored", "no replacement"])
def test_transform_failure_after_a_byte_went_out_is_reraised(answer: bool) -> None:
    on_error = Recovering(answer)
    tracked = Tracked([b"good", b"bad"])
    with pytest.raises(ValueError, match="transform failed"):
        run_wsgi(linted(tracked_app(tracked), layer(stream_with(on_error))))
    assert on_error.calls == [("transform failed", True)]
    assert tracked.closes == 1
    # A server that would accept a replacement all the same is not offered one.
    statuses: list[str] = []

    def lenient(status: str, headers: Headers, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    tracked = Tracked([b"good", b"bad"])
    body = Intercepting(tracked_app(tracked), stream_with(Recovering(answer)))(
        make_environ(), lenient
    )
    with pytest.raises(ValueError, match="transform failed"):
        for _chunk in body:
            pass
    body.close()  # type: ignore[attr-defined]
    assert statuses == ["200 OK"]
    assert tracked.closes == 1


def test_transform_failure_without_a_replacement_is_reraised() -> None:
    on_error = Recovering(answer=False)
    with pytest.raises(ValueError, match="transform failed"):
        run_wsgi(Intercepting(tracked_app(Tracked([b"bad"])), stream_with(on_error)))
    assert on_error.calls == [("transform failed", False)]


def str_writer(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A legacy app that passes a str to write()."""
    write = start_response("200 OK", [("Content-Type", "text/html")])
    write(cast(bytes, "str, not bytes"))
    return []


@pytest.mark.parametrize(
    ("app", "error", "match"),
    [
        pytest.param(
            tracked_app(Tracked([b"x"], fail_at=0)), RuntimeError, "boom", id="app raises"
        ),
        pytest.param(
            str_writer, TypeError, "application's response body must be bytes", id="app writes str"
        ),
    ],
)
def test_application_errors_pass_a_transform_untouched(
    app: WSGIApplication, error: type[Exception], match: str
) -> None:
    """on_error is for the transform's own failures: the app's pass as they are."""
    on_error = Recovering()
    with pytest.raises(error, match=match):
        run_wsgi(Intercepting(app, stream_with(on_error)))
    assert on_error.calls == []


# --- property: the headers sent describe the body sent ----------------------------------


def plan_kind(kind: str) -> Any:
    """A plan of ``kind`` that marks its headers with ``X-Plan`` and its body."""

    def finish(status: str, headers: Headers, body: bytes) -> tuple[str, Headers, bytes]:
        return status, [*headers, ("X-Plan", "buffer")], body.upper() + b"!"

    def make(status: str, headers: Headers) -> Plan:
        if kind == "edit":
            return EditHeaders(status, [*headers, ("X-Plan", "edit")])
        if kind == "stream":
            return Stream(status, [*headers, ("X-Plan", "stream")], upper_transform)
        if kind == "buffer":
            return Buffer(finish)
        return None

    return make


MARKED = {None: b"second", "edit": b"second", "stream": b"SECOND", "buffer": b"SECOND!"}


@settings(max_examples=150, deadline=None)
@given(
    first=st.sampled_from(["pass", "edit", "stream", "buffer"]),
    second=st.sampled_from(["pass", "edit", "stream", "buffer"]),
    lazy=st.booleans(),
    point=st.sampled_from(["before returning", "first iteration", "after an empty chunk"]),
)
def test_a_replacement_always_gets_headers_that_describe_its_body(
    first: str, second: str, lazy: bool, point: str
) -> None:
    plans = {"200": plan_kind(first), "500": plan_kind(second)}

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        return cast(Plan, plans[status[:3]](status, headers))

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def replace() -> None:
            try:
                raise ValueError("replaced")
            except ValueError:
                start_response("500 Oops", [("Content-Type", "text/html")], sys.exc_info())

        def body() -> Iterator[bytes]:
            if lazy:
                start_response("200 OK", [("Content-Type", "text/html")])
            if point == "after an empty chunk":
                yield b""
            if lazy or point != "before returning":
                replace()
            yield b"second"

        if not lazy:
            start_response("200 OK", [("Content-Type", "text/html")])
            if point == "before returning":
                replace()
        return body()

    calls, written, _ = run_wsgi(validator(Intercepting(app, decide)))
    status, headers = calls[-1]
    assert status == "500 Oops"
    assert b"".join(written) == MARKED[get_header(headers, "X-Plan")]
    length = get_header(headers, "Content-Length")
    assert length is None or int(length) == len(b"".join(written))


@pytest.mark.parametrize("lazy", [False, True], ids=["eager start", "lazy start"])
def test_write_while_a_stream_is_iterated_is_transformed_in_order(lazy: bool) -> None:
    """write() called between chunks of a streamed body: every byte reaches
    the transform, in order (the write callable stays valid after the core
    hands pending data on)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/html")])
        yield b"a"
        write(b"b")
        yield b"c"
        write(b"d")
        yield b"e"
        write(b"f")

    def eager(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        chunks = app(environ, start_response)
        first = next(chunks)  # start_response called before returning
        return itertools.chain([first], chunks)

    _, body, _ = run_wsgi(Intercepting(app if lazy else eager, decide_stream))
    assert b"".join(body) == b"ABCDEF"


# --- the per-response state is set lazily (#11) ---------------------------------------
# The core sets only the fields a pass-through response reads; these paths are the
# ones that must set the rest first.


@pytest.mark.parametrize("decide", PLANS)
@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_first_start_response_with_exc_info(decide: Any, lazy: bool) -> None:
    """PEP 3333 allows exc_info on the first call: it is an ordinary start."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        try:
            raise ValueError("before any start_response")
        except ValueError:
            write = start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        write(b"written ")
        yield b"error page"

    def eager(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        chunks = app(environ, start_response)
        first = next(chunks)
        return [first]

    calls, body, _ = run_wsgi(Intercepting(app if lazy else eager, decide))
    assert [status for status, _ in calls] == ["500 Oops"]
    text = b"".join(body).lower()
    assert text in {b"written error page", b"written error page!"}


@pytest.mark.parametrize("decide", PLANS)
def test_decide_failing_then_replaced_with_exc_info(decide: Any) -> None:
    """decide() raising inside start_response: the application may answer with
    a replacement, decided afresh (nothing reached the server)."""
    failed: list[bool] = []

    def flaky(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        if not failed:
            failed.append(True)
            raise LookupError("decide failed")
        return cast(Plan, decide(environ, status, headers))

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            start_response("200 OK", [("Content-Type", "text/plain")])
        except LookupError:
            start_response("503 Later", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"later"]

    calls, body, _ = run_wsgi(Intercepting(app, flaky))
    assert [status for status, _ in calls] == ["503 Later"]
    assert b"".join(body).lower() in {b"later", b"later!"}


@pytest.mark.parametrize("decide", [decide_pass, decide_edit], ids=["pass", "edit-headers"])
def test_replacement_after_the_fast_path_returned(decide: Any) -> None:
    """A pass-through response handed back to the server, then replaced with
    exc_info while the server iterates it: the server is told (the slow-path
    state is set up at that point, not before)."""
    received: list[tuple[str, bool]] = []
    holder: list[StartResponse] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        holder.append(start_response)
        start_response("200 OK", [("Content-Type", "text/html")])
        return tracked

    tracked = Tracked([b"body"])

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        received.append((status, exc_info is not None))
        return lambda data: None

    result = intercept(app, make_environ(), start_response, decide)
    assert result is tracked  # the fast path: the app's own iterable
    try:
        raise ValueError("while the server iterates")
    except ValueError:
        holder[0]("500 Oops", [("Content-Type", "text/html")], sys.exc_info())
    assert received == [("200 OK", False), ("500 Oops", True)]
