"""Shared test harness: toy WSGI apps, close tracking, lint on both sides,
real framework apps and a real server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgiref.validate import validator

import pytest
import webtest
from hypothesis import HealthCheck, settings

# Property tests: no per-example deadline (a loaded 2-core CI machine is not a
# bug), and on CI a fixed example sequence, so a run is repeatable; locally
# every run explores new examples.
settings.register_profile(
    "wsgikit",
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("wsgikit")

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
DJANGO_PROJECT = ROOT / "examples" / "django_project"

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
    import io

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
    raise RuntimeError("secret internal detail")


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


# --- real framework apps --------------------------------------------------------


@pytest.fixture
def flask_app() -> WSGIApplication:
    """A small Flask app: ``/`` HTML, ``/json``, ``/boom`` raises, ``/missing`` aborts 404."""
    import flask

    app = flask.Flask("wsgikit_test_flask")

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

    return app


@pytest.fixture
def pyramid_app() -> WSGIApplication:
    """A small Pyramid app with the same routes as :func:`flask_app`."""
    from pyramid.config import Configurator
    from pyramid.httpexceptions import HTTPNotFound
    from pyramid.response import Response

    def index(request: Any) -> Response:
        return Response("<html><body><h1>Pyramid</h1></body></html>", content_type="text/html")

    def as_json(request: Any) -> Response:
        return Response(json_body={"ok": True})

    def boom(request: Any) -> Response:
        raise RuntimeError("pyramid internal detail")

    def missing(request: Any) -> Response:
        raise HTTPNotFound("No such thing here.")

    def env(request: Any) -> Response:
        return Response(
            json_body={
                "remote_addr": request.remote_addr,
                "scheme": request.scheme,
                "host_url": request.host_url + "/",
                "url": request.url,
            }
        )

    with Configurator() as config:
        for name, path, view in [
            ("index", "/", index),
            ("json", "/json", as_json),
            ("boom", "/boom", boom),
            ("missing", "/missing", missing),
            ("env", "/env", env),
        ]:
            config.add_route(name, path)
            config.add_view(view, route_name=name)
        return config.make_wsgi_app()


@pytest.fixture
def bottle_app() -> WSGIApplication:
    """A small Bottle app with the same routes as :func:`flask_app`."""
    import bottle

    app = bottle.Bottle(catchall=True)

    @app.route("/")
    def index() -> str:
        return "<html><body><h1>Bottle</h1></body></html>"

    @app.route("/json")
    def as_json() -> dict[str, bool]:
        return {"ok": True}

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("bottle internal detail")

    @app.route("/missing")
    def missing() -> str:
        bottle.abort(404, "No such thing here.")
        return ""

    @app.route("/env")
    def env() -> dict[str, str]:
        req = bottle.request
        return {
            "remote_addr": req.remote_addr,
            "scheme": req.urlparts.scheme,
            "host_url": f"{req.urlparts.scheme}://{req.urlparts.netloc}/",
            "url": req.url,
        }

    return app


@pytest.fixture(params=["flask", "pyramid", "bottle"])
def framework_app(request: pytest.FixtureRequest) -> WSGIApplication:
    """Each real framework app in turn (same routes)."""
    return request.getfixturevalue(f"{request.param}_app")


# --- a real server on 127.0.0.1 ----------------------------------------------


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
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.output = self.process.stdout.read() if self.process.stdout else ""
        if self.process.stdout:
            self.process.stdout.close()
        return self.output


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start ``wsgikit serve TARGET`` on an ephemeral port; stopped after the test.

    ``TARGET`` is ``module:attr`` importable from ``tests/`` (see ``e2e_apps.py``),
    an INI file path, or ``None`` for the built-in demo.
    """
    servers: list[Server] = []

    def start(
        target: str | None,
        env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        command: str = "serve",
        argv: list[str] | None = None,
    ) -> Server:
        server = Server(target, env, extra_args, command, argv)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# --- Django (the example project, settings per test) ----------------------------


@pytest.fixture
def django_site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., WSGIApplication]]:
    """``make(**settings)``: the example project's Django app (no wsgikit
    layer), its settings overridden for this test only.

    Settings are configured once per process (Django allows no more), then
    every test states what it relies on with ``override_settings``, so tests
    of other modules configuring Django first do not change the outcome."""
    import django
    from django.conf import settings as django_settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    monkeypatch.syspath_prepend(str(DJANGO_PROJECT))
    monkeypatch.setenv("DJANGO_SECRET_KEY", "test-key-" + "x" * 40)
    if not django_settings.configured:
        django_settings.configure(LOGGING_CONFIG=None, SECRET_KEY="wsgikit-tests-" + "x" * 40)
        django.setup()
    from demo_site import settings as project

    # The app registry and databases are process-wide: left as they are.
    skip = {"INSTALLED_APPS", "DATABASES"}
    base = {name: getattr(project, name) for name in dir(project) if name.isupper()}
    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> WSGIApplication:
            options = {k: v for k, v in {**base, **overrides}.items() if k not in skip}
            stack.enter_context(override_settings(**options))
            return WSGIHandler()

        yield make


@pytest.fixture(scope="module")
def raw_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``tests/e2e_http_proxy_upstream.py`` (a socket-level HTTP server that shows
    requests as they arrived) on an ephemeral port: ``(url, marker_dir)``."""
    tmp_path = tmp_path_factory.mktemp("upstream")
    process = subprocess.Popen(
        [sys.executable, str(TESTS_DIR / "e2e_http_proxy_upstream.py"), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}", tmp_path
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


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
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        with_client = getattr(self, "client", None)
        if with_client is not None:
            with_client.close()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.client.flushall()
    return redis_server.url
