"""Helpers shared by test modules (a plain module; ``conftest.py`` holds fixtures only).

- :func:`call` drives one request through an application (``wsgiref.validate``
  on both sides) and returns a :class:`Response` (``.status``, ``.header(name)``
  first value or None, ``.headers(name)`` all values, ``.body``,
  ``.close_count``); it also unpacks as ``status, header_list, body``.
- :func:`header_values` (every value) and :func:`header_value` (the one value,
  failing if repeated) read a raw header list; :func:`problem` checks the JSON
  framing of an error body; :func:`basic` and :func:`bcrypt_hash` make
  credentials.
- :func:`linted`, :func:`testapp`, :func:`run_wsgi`, :func:`make_environ`: the
  lower-level harness, for tests that watch start_response calls or iterate
  by hand.
- Toy apps (:func:`text_app`, :func:`echo_environ_app`, :func:`raising_app`,
  :func:`streaming_app`, :func:`write_app`, ...), :class:`Tracked` and
  :class:`Handshake` for close and streaming checks.
- :class:`Server` (``wsgikit serve`` on 127.0.0.1) and :class:`RedisServer`,
  both stopped by PID (:func:`stop_by_pid`); :func:`free_port`.
- :class:`Capture`, :func:`through` and :func:`seen` run a request through a
  proxy middleware and look at the environ the app got.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgiref.validate import validator

import bcrypt
import pytest
import webtest
from hypothesis import strategies as st

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
DJANGO_PROJECT = ROOT / "examples" / "django_project"

#: Text that must never reach a client (an exception message, a 5xx page).
SECRET = "secret internal detail"

Layer = Callable[[WSGIApplication], WSGIApplication]


# --- lint on both sides -------------------------------------------------------


def linted(app: WSGIApplication, *layers: Layer) -> WSGIApplication:
    """Wrap ``app`` in ``layers`` (outermost first) with ``wsgiref.validate``
    between the server and the stack and between the stack and the app."""
    inner: WSGIApplication = validator(app)
    for layer in reversed(layers):
        inner = layer(inner)
    return validator(inner)


def testapp(app: WSGIApplication, *layers: Layer, **kwargs: Any) -> webtest.TestApp:
    """A ``webtest.TestApp`` (lint on) around ``linted(app, *layers)``."""
    return webtest.TestApp(linted(app, *layers), **kwargs)


testapp.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


# --- close tracking -----------------------------------------------------------


class Tracked:
    """An app iterable that records how often ``close()`` was called.

    ``fail_at=i`` raises ``RuntimeError`` when chunk ``i`` is requested.
    """

    def __init__(self, chunks: Iterable[bytes], fail_at: int | None = None) -> None:
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.closes = 0
        self.served = 0

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_at:
                raise RuntimeError(f"boom at chunk {index}")
            self.served += 1
            yield chunk
        if self.fail_at is not None and self.fail_at >= len(self.chunks):
            raise RuntimeError("boom at the end")

    def close(self) -> None:
        self.closes += 1


def run_wsgi(
    app: WSGIApplication, environ: WSGIEnvironment | None = None, *, consume: bool = True
) -> tuple[list[tuple[str, list[tuple[str, str]]]], list[bytes], Iterable[bytes]]:
    """Call ``app`` as a minimal server would; returns (start_response calls,
    body chunks, the returned iterable). The iterable is closed."""
    calls: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info is not None and any(written):
            raise exc_info[1].with_traceback(exc_info[2])
        calls.append((status, list(headers)))
        return written.append

    env = make_environ(**(environ or {}))
    result = app(env, start_response)
    try:
        if consume:
            for chunk in result:
                written.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return calls, written, result


def make_environ(**overrides: Any) -> WSGIEnvironment:
    """A complete PEP 3333 environ for a GET of ``/``."""
    environ: WSGIEnvironment = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(overrides)
    return environ


# --- toy apps (declared once, used by every test module) ----------------------


def text_app(
    body: bytes = b"Hello, world!",
    status: str = "200 OK",
    content_type: str = "text/plain; charset=utf-8",
    headers: Iterable[tuple[str, str]] = (),
) -> WSGIApplication:
    """An app returning ``body`` as a one-element list with its Content-Length."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            status,
            [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers],
        )
        return [body]

    return app


def echo_environ_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Returns the environ's string values (and wsgikit.* keys) as JSON."""
    shown = {
        key: value
        for key, value in environ.items()
        if isinstance(value, str | int | float | bool | type(None))
        or (key.startswith("wsgikit.") and isinstance(value, dict))
    }
    body = json.dumps(shown, default=str).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def raising_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Raises before calling start_response."""
    raise RuntimeError(SECRET)


def tracked_app(
    tracked: Tracked,
    status: str = "200 OK",
    content_type: str = "text/html; charset=utf-8",
    headers: Iterable[tuple[str, str]] = (),
) -> WSGIApplication:
    """An app returning the given :class:`Tracked` iterable."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, [("Content-Type", content_type), *headers])
        return tracked

    return app


def lazy_app(
    chunks: Iterable[bytes] = (b"lazy ", b"body"),
    status: str = "200 OK",
    content_type: str = "text/html",
) -> WSGIApplication:
    """A generator app that calls start_response on its first iteration."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response(status, [("Content-Type", content_type)])
        yield from chunks

    return app


#: A generator app that calls start_response on its first iteration.
streaming_app = lazy_app


def write_app(
    written: Iterable[bytes] = (b"written ",),
    returned: Iterable[bytes] = (b"returned",),
    status: str = "200 OK",
    content_type: str = "text/html",
) -> WSGIApplication:
    """A legacy app that uses the write() callable, then returns more chunks."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response(status, [("Content-Type", content_type)])
        for chunk in written:
            write(chunk)
        return list(returned)

    return app


def exc_info_app(
    first_status: str = "200 OK",
    error_status: str = "500 Internal Server Error",
    content_type: str = "text/html",
) -> WSGIApplication:
    """Starts a response, fails, then replaces it with start_response(exc_info)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(first_status, [("Content-Type", content_type)])
        try:
            raise ValueError("failed after start_response")
        except ValueError:
            start_response(error_status, [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replacement error page"]

    return app


def error_first_app(
    before: Callable[[WSGIEnvironment], object] = lambda environ: None,
) -> WSGIApplication:
    """Answers a 500 text page whose *first* start_response carries exc_info,
    as Bottle does for an unhandled error; ``before(environ)`` runs first."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        before(environ)
        try:
            raise ValueError("route failed")
        except ValueError:
            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"error page"]

    return app


class Handshake:
    """A generator app whose second chunk is produced only after the test saw
    the first: proves a middleware streams instead of buffering."""

    def __init__(
        self, content_type: str = "text/html", status: str = "200 OK", chunk: bytes = b"first"
    ) -> None:
        self.content_type = content_type
        self.status = status
        self.chunk = chunk
        self.first_seen = threading.Event()
        self.second_produced = False

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response(self.status, [("Content-Type", self.content_type)])
        yield self.chunk
        if not self.first_seen.is_set():
            raise AssertionError("the second chunk was requested before the first was seen")
        self.second_produced = True
        yield b"second"

    def drive(self, app: WSGIApplication, environ: WSGIEnvironment | None = None) -> list[bytes]:
        """Iterate ``app`` (the wrapped handshake) chunk by chunk as a server does."""
        seen: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            return seen.append

        result = app(make_environ(**(environ or {})), start_response)
        try:
            for chunk in result:
                if chunk:
                    seen.append(chunk)
                    self.first_seen.set()
        finally:
            getattr(result, "close", lambda: None)()
        return seen


# --- the one-request driver ------------------------------------------------------


def header_values(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order."""
    return [value for key, value in headers if key.lower() == name.lower()]


def header_value(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The one value of header ``name``, or ``None``; fails if it appears twice."""
    values = header_values(headers, name)
    assert len(values) <= 1, f"{name} appears {len(values)} times"
    return values[0] if values else None


@dataclasses.dataclass(eq=False)
class Response:
    """What :func:`call` saw: the final status and headers, the body, and how
    many times the application iterable's ``close()`` ran.

    Unpacks as ``status, header_list, body`` for tests that want the raw list.
    """

    status: str
    header_list: list[tuple[str, str]]
    body: bytes
    close_count: int
    #: Every ``start_response`` call (status, headers), the last one won.
    calls: list[tuple[str, list[tuple[str, str]]]]

    @property
    def status_code(self) -> int:
        return int(self.status.split(" ", 1)[0])

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, or ``None``."""
        values = self.headers(name)
        return values[0] if values else None

    def headers(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        return header_values(self.header_list, name)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.header_list, self.body))

    def __repr__(self) -> str:
        return f"<Response {self.status!r} {self.header_list!r} {self.body[:60]!r}>"


class _CountingIterable:
    """The app's iterable with its ``close()`` calls counted (iterates the original)."""

    def __init__(self, result: Iterable[bytes], counter: list[int]) -> None:
        self.result = result
        self.counter = counter

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        self.counter[0] += 1
        close = getattr(self.result, "close", None)
        if close is not None:
            close()


def call(app: WSGIApplication, *layers: Layer, lint: bool = True, **environ: Any) -> Response:
    """One request through ``linted(app, *layers)`` (``wsgiref.validate`` on both
    sides; ``lint=False`` calls the stack bare, e.g. to hand it a list iterable).

    ``environ`` overrides :func:`make_environ`'s GET of ``/``; a ``body``
    keyword becomes ``wsgi.input`` (``CONTENT_LENGTH`` is left to the caller,
    so chunked and lying requests can be written).
    """
    body = environ.pop("body", None)
    if body is not None:
        environ["wsgi.input"] = io.BytesIO(body)
    counter = [0]

    def counted(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        result = app(environ, start_response)
        # Nothing to count on an iterable without close() (a list): handed on
        # as it is, so a bare stack still sees the app's own list.
        return result if not hasattr(result, "close") else _CountingIterable(result, counter)

    if lint:
        stack = linted(counted, *layers)
    else:
        stack = counted
        for layer in reversed(layers):
            stack = layer(stack)
    calls, chunks, _ = run_wsgi(stack, environ)
    status, headers = calls[-1]
    return Response(status, headers, b"".join(chunks), counter[0], calls)


def basic(username: str, password: str, encoding: str = "utf-8") -> str:
    """An ``Authorization: Basic`` value for the credentials."""
    raw = f"{username}:{password}".encode(encoding)
    return "Basic " + base64.b64encode(raw).decode("ascii")


def bcrypt_hash(password: str, rounds: int = 4) -> str:
    """A bcrypt hash of ``password`` at the cheapest cost tests can afford."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def problem(
    headers: list[tuple[str, str]], body: bytes, content_type: str = "application/problem+json"
) -> dict[str, Any]:
    """Check the JSON framing of an error body and return it decoded."""
    assert header_values(headers, "Content-Type") == [content_type]
    assert header_values(headers, "Content-Length") == [str(len(body))]
    data = json.loads(body.decode("utf-8"))
    assert isinstance(data, dict)
    return data


def raising(exc: BaseException) -> WSGIApplication:
    """An app that raises ``exc`` before calling start_response."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raise exc

    return app


# --- ProxyFix and FakeForwardedFor -----------------------------------------------

#: The environ keys ProxyFix may write.
PROXY_FIX_KEYS = (
    "REMOTE_ADDR",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "SCRIPT_NAME",
)


#: The environ keys of the forwarded headers ProxyFix reads.
FORWARDED_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
)


class Capture:
    """An app that keeps the environ it was called with."""

    def __init__(self) -> None:
        self.environ: WSGIEnvironment = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.environ = environ
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]


def through(middleware: Any, *args: Any, **kwargs: Any) -> Any:
    """A factory: ``through(ProxyFix, x_for=2)(**environ) -> environ seen by the app``."""

    def run(**environ: Any) -> WSGIEnvironment:
        capture = Capture()
        run_wsgi(middleware(capture, *args, **kwargs), environ)
        return capture.environ

    return run


def seen(environ: WSGIEnvironment) -> dict[str, Any]:
    """The values of the keys ProxyFix may write."""
    return {key: environ.get(key) for key in PROXY_FIX_KEYS}


# --- a real server on 127.0.0.1 ----------------------------------------------


def stop_by_pid(process: subprocess.Popen[Any]) -> None:
    """SIGTERM the child by its PID, SIGKILL if it is still there after 10 s."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``wsgikit serve TARGET`` (waitress) in a child process on 127.0.0.1;
    another ``command`` (``proxy``) or a whole ``argv`` (``{port}`` filled in)."""

    def __init__(
        self,
        target: str | None,
        env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        command: str = "serve",
        argv: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output: str | None = None
        self.responses: list[Any] = []
        args = [sys.executable, "-m", "wsgikit", command]
        if target:
            args.append(target)
        args += ["--host", "127.0.0.1", "--port", str(self.port), *(extra_args or [])]
        if argv is not None:
            args = [arg.format(port=self.port) for arg in argv]
        child_env = dict(os.environ)
        child_env["PYTHONPATH"] = os.pathsep.join(
            [str(TESTS_DIR), str(ROOT), child_env.get("PYTHONPATH", "")]
        )
        child_env.update(env or {})
        self.process = subprocess.Popen(
            args,
            env=child_env,
            cwd=str(TESTS_DIR),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # A runner started in the background by a shell ignores SIGINT, and a
            # child inherits that (Python then never raises KeyboardInterrupt):
            # give the server the default, so Ctrl+C tests behave the same anywhere.
            preexec_fn=_default_sigint,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = self.process.stdout.read() if self.process.stdout else ""
                raise RuntimeError(f"server exited early: {out}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("server did not start in time")

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        """GET ``path``; an HTTP error status is returned, not raised. Responses
        not closed by the test are closed by :meth:`stop` (no ResourceWarning)."""
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            response = urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        self.responses.append(response)
        return response

    def stop(self) -> str:
        """Stop the child by its PID; return what it printed (idempotent)."""
        if self.output is not None:
            return self.output
        for response in self.responses:
            with contextlib.suppress(Exception):
                response.close()
        stop_by_pid(self.process)
        self.output = self.process.stdout.read() if self.process.stdout else ""
        if self.process.stdout:
            self.process.stdout.close()
        return self.output


# --- a real redis-server, started by the test and stopped by its PID ---------------


class RedisServer:
    """A ``redis-server`` on a free 127.0.0.1 port, no persistence; stopped by PID."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        import redis

        self.client = redis.Redis.from_url(self.url)

    def stop(self) -> None:
        stop_by_pid(self.process)
        with_client = getattr(self, "client", None)
        if with_client is not None:
            with_client.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# --- body/core/log tables ---------------------------------------------------------
# Cases that more than one module checks against the same rule: each table is
# written once here and every module that applies the rule runs all of it.


def late_exc_info_app(
    sent: bytes,
    *replacement: bytes,
    content_type: str = "text/html",
    error_headers: Iterable[tuple[str, str]] = (("Content-Type", "text/plain"),),
    error: type[Exception] = ValueError,
) -> WSGIApplication:
    """A generator app that starts a 200, yields ``sent``, fails with ``error``
    and calls start_response again with exc_info (a 500), then yields the
    ``replacement`` chunks: the case a layer may still honour (``sent`` is empty
    or buffered) or must re-raise (it went out)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", content_type)])
        yield sent
        try:
            raise error("failed after the body started")
        except error:
            start_response("500 Internal Server Error", list(error_headers), sys.exc_info())
        yield from replacement

    return app


# --- sessions/auth/errors tables ---


def import_file(path: Path, name: str) -> ModuleType:
    """Import the file at ``path`` as a fresh module called ``name``.

    The module is registered in ``sys.modules`` (dataclasses and pickling look
    their module up there); whatever it adds to ``sys.path`` while importing is
    undone, so one test's example or bench script cannot shadow another's.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    saved = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


#: Any text a client may put in a Cookie header (every ISO-8859-1 character).
COOKIE_TEXT = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=200)


def cookie_headers(planted: Callable[[str, str], str]) -> st.SearchStrategy[str]:
    """Cookie header values: any text, ``session=`` with any value, or a
    ``session=`` cookie of value ``planted(a, b)`` between any texts a and b."""
    return st.one_of(
        COOKIE_TEXT,
        st.builds("session=".__add__, COOKIE_TEXT),
        st.builds(lambda a, b: f"{a}session={planted(a, b)}{b}", COOKIE_TEXT, COOKIE_TEXT),
    )


#: Any JSON value (no NaN or infinity, which JSON cannot carry).
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def session_data(min_size: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Session dicts of JSON values, and long repetitive ones so that the
    signed cookie's zlib form is taken too."""
    return st.dictionaries(
        st.text(max_size=12), JSON_VALUES, min_size=min_size, max_size=6
    ) | st.builds(
        lambda word, n: {"cart": [word] * n},
        st.text(min_size=1, max_size=8),
        st.integers(min_size, 80),
    )


def flask_demo(name: str) -> Any:
    """A small Flask app: ``/`` HTML, ``/json``, ``/boom`` raises, ``/missing``
    aborts 404, ``/env`` shows what Flask sees of the request, ``/go``
    redirects (302) to ``/items/``, which Flask itself redirects ``/items`` to (308)."""
    import flask

    app = flask.Flask(name)

    @app.route("/")
    def index() -> str:
        return "<html><body><h1>Flask</h1></body></html>"

    @app.route("/json")
    def as_json() -> Any:
        return flask.jsonify(ok=True)

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("flask internal detail")

    @app.route("/missing")
    def missing() -> str:
        flask.abort(404, description="No such thing here.")

    @app.route("/env")
    def env() -> Any:
        req = flask.request
        return flask.jsonify(
            remote_addr=req.remote_addr, scheme=req.scheme, host_url=req.host_url, url=req.url
        )

    @app.route("/items/")
    def items() -> str:
        return "items"

    @app.route("/go")
    def go() -> Any:
        return flask.redirect("/items/")

    return app


#: One app of each kind a layer must handle the same way: a list body, a
#: generator that starts the response on first iteration, the legacy write()
#: callable, and a response replaced with exc_info before its body.
APP_KINDS = [
    pytest.param(text_app(), id="list"),
    pytest.param(lazy_app(), id="lazy generator"),
    pytest.param(write_app(), id="write()"),
    pytest.param(exc_info_app(), id="exc_info replacement"),
]

#: Headers of a 200 that forbid transforming its body: a content coding other
#: than a lone ``identity`` (RFC 9110 8.4), or ``no-transform`` (RFC 9111 5.2).
#: The rule is ``wsgikit._http.transformable``; Compress must pass these through.
NOT_TRANSFORMABLE = [
    pytest.param([("Content-Encoding", "br")], id="already encoded"),
    pytest.param([("Content-Encoding", "gzip")], id="gzip"),
    pytest.param([("Content-Encoding", "gzip, identity")], id="gzip, identity"),
    pytest.param([("Content-Encoding", "identity, br")], id="identity, br"),
    pytest.param([("Content-Encoding", "identity, identity")], id="identity twice"),
    pytest.param([("Content-Encoding", "x-custom")], id="unknown coding"),
    pytest.param([("Cache-Control", "No-Transform")], id="no-transform"),
    pytest.param([("Cache-Control", "public, No-Transform")], id="no-transform among others"),
    # the same, split over two header lines
    pytest.param(
        [("Content-Encoding", "gzip"), ("content-encoding", "identity")],
        id="gzip then identity in two headers",
    ),
    pytest.param(
        [("Cache-Control", "public"), ("cache-control", "no-transform")],
        id="no-transform in a second, lower-case header",
    ),
]

#: ``(content_types option, Content-Type sent, selected)``: the one media type
#: pattern contract (``wsgikit._http.media_patterns`` + ``MediaMatcher``) that
#: every ``content_types`` option follows.
MEDIA_TYPE_SELECTION = [
    pytest.param(("text/html",), "text/html; charset=utf-8", True, id="parameters ignored"),
    pytest.param(("text/html",), "TEXT/HTML", True, id="case-insensitive value"),
    pytest.param(("text/html",), " TEXT/HTML ", True, id="case and spaces"),
    pytest.param(("Text/HTML",), "text/html", True, id="case-insensitive option"),
    pytest.param(("text/html",), " text/html ;q=1", True, id="spaces before parameters"),
    pytest.param(("text/html",), "text/htmlx", False, id="longer subtype"),
    pytest.param(("text/html",), "text/plain", False, id="other subtype"),
    pytest.param(("text/html",), "application/xhtml+xml", False, id="xhtml is not html"),
    pytest.param(("text/*",), "text/plain", True, id="wildcard subtype"),
    pytest.param(("text/*",), "text/plain; charset=latin-1", True, id="wildcard, parameters"),
    pytest.param(("text/*",), "application/json", False, id="wildcard other major"),
    pytest.param(("text/*",), "textual/plain", False, id="wildcard prefix only"),
    pytest.param(("text/*",), "text", False, id="wildcard needs a subtype"),
    pytest.param(("*/*",), "image/png", True, id="any type"),
    pytest.param(("*/*",), "text", False, id="any type needs a subtype"),
    pytest.param(("*/*",), "garbage", False, id="any type needs a slash"),
    pytest.param(("*/*",), "", False, id="empty"),
    pytest.param(("application/json",), "application/json", True, id="json listed"),
    pytest.param("application/json", "application/json", True, id="single string option"),
    pytest.param(("+json",), "application/ld+json", True, id="suffix"),
    pytest.param(("+json",), "application/json", False, id="suffix is not a subtype"),
    pytest.param(("+json",), "application/json+xml", False, id="last suffix counts"),
    pytest.param(("+xml",), "image/svg+xml; charset=utf-8", True, id="suffix, parameters"),
]

#: ``(value, plausible)``: what a request ID taken from a client may look like
#: (``wsgikit._http.REQUEST_ID``), for RequestID and JSONErrors alike.
REQUEST_IDS = [
    pytest.param("req-42", True, id="plain"),
    pytest.param("4bf92f3577b34da6a3ce929d0e0e4736", True, id="hex"),
    pytest.param("4bf92f35-77b3-4da6-a3ce-929d0e0e4736", True, id="uuid"),
    pytest.param("req:1/abc+def==", True, id="base64ish"),
    pytest.param("a" * 128, True, id="128 characters"),
    pytest.param("a" * 129, False, id="too long"),
    pytest.param("abc def", False, id="space"),
    pytest.param('abc"def', False, id="quote"),
    pytest.param("<script>", False, id="angle brackets"),
    pytest.param('<script>alert("x")</script>', False, id="markup"),
    pytest.param("caf\xe9", False, id="non-ASCII"),
    pytest.param("", False, id="empty"),
]


def vary_cases(field: str) -> list[Any]:
    """``(Vary values sent, Vary values after)`` rows for a layer that adds
    ``field`` to ``Vary`` (``wsgikit._http.with_vary``): merged into the
    first header, left alone when already named or ``*``."""
    one, two = "Accept-Language", "X-Variant"  # never the field under test
    return [
        pytest.param([], [field], id="none"),
        pytest.param([one], [f"{one}, {field}"], id="merged"),
        pytest.param([f"{one}, "], [f"{one}, {field}"], id="trailing comma"),
        pytest.param([field.lower()], [field.lower()], id="present lower-case"),
        pytest.param([f"{one}, {field}"], [f"{one}, {field}"], id="present in list"),
        pytest.param([one, field], [one, field], id="present in a second header"),
        pytest.param(["*"], ["*"], id="star left alone"),
        pytest.param([two, one], [f"{two}, {one}, {field}"], id="several merged"),
    ]


# --- proxy/paste/cli tables ---


def rows(first: Any, label: str, *cases: tuple[Any, str]) -> list[Any]:
    """Rows ``(first, value)`` of a parametrize table that share ``first``: one per
    ``(value, case)`` pair, with the id ``"<label>: <case>"``."""
    import pytest  # only these table builders need it

    return [pytest.param(first, value, id=f"{label}: {case}") for value, case in cases]


def json_view_app(
    framework: str, path: str, view: Callable[[Any], dict[str, Any]]
) -> WSGIApplication:
    """A real ``framework`` app ("flask", "pyramid" or "bottle") whose route
    ``path`` answers the JSON of ``view(request)``, ``request`` being the
    framework's own request object, through its routing and JSON response."""
    if framework == "flask":
        import flask

        flask_app = flask.Flask(f"wsgikit_test_{framework}")
        flask_app.add_url_rule(path, "view", lambda: flask.jsonify(view(flask.request)))
        return flask_app
    if framework == "pyramid":
        from pyramid.config import Configurator
        from pyramid.response import Response

        with Configurator() as config:
            config.add_route("view", path)
            config.add_view(lambda req: Response(json_body=view(req)), route_name="view")
            return config.make_wsgi_app()
    assert framework == "bottle", framework
    import bottle

    bottle_app = bottle.Bottle()
    bottle_app.route(path, callback=lambda: view(bottle.request))
    return bottle_app


def bad_option(error: type[Exception], case: str, match: str = "", **options: Any) -> Any:
    """One row ``(options, error, match)`` of a bad-options table, with the id
    ``case``: the constructor given ``options`` raises ``error`` whose message
    matches ``match``, by default the (first) option's own name."""
    return pytest.param(options, error, match or next(iter(options)), id=case)
