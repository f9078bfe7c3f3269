"""Fixtures only: real framework apps, a real server on 127.0.0.1, Django,
a raw upstream and redis-server. Helpers live in ``helpers.py``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.types import WSGIApplication

import pytest
from helpers import DJANGO_PROJECT, TESTS_DIR, RedisServer, Server, flask_demo, stop_by_pid
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


# --- real framework apps --------------------------------------------------------


@pytest.fixture
def flask_app() -> WSGIApplication:
    """A small Flask app: ``/`` HTML, ``/json``, ``/boom`` raises, ``/missing`` aborts 404."""
    return flask_demo("wsgikit_test_flask")  # type: ignore[no-any-return]


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


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start ``wsgikit serve TARGET`` on an ephemeral port; stopped after the test.

    ``TARGET`` is ``module:attr`` importable from ``tests/`` (the ``e2e_*_apps.py`` modules),
    an INI file path, or ``None`` for the built-in demo; the arguments are
    :class:`helpers.Server`'s.
    """
    servers: list[Server] = []

    def start(*args: Any, **kwargs: Any) -> Server:
        server = Server(*args, **kwargs)
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
        stop_by_pid(process)
        if process.stdout:
            process.stdout.close()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.client.flushall()
    return redis_server.url
