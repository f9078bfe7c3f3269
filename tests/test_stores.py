"""Server-side sessions: SessionMiddleware(store=RedisStore(...) | MemoryStore())."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import itsdangerous
import pytest
import redis
import requests
import webtest
from helpers import (
    Tracked,
    cookie_headers,
    exc_info_app,
    free_port,
    linted,
    run_wsgi,
    testapp,
)
from hypothesis import HealthCheck, given, settings

from wsgikit import JSONErrors, MemoryStore, RedisStore, SessionStoreError
from wsgikit.sessions import Session, SessionMiddleware, get_session

SECRET = "test-secret-key-0123456789abcdef"
HOUR = 3600


@pytest.fixture(params=["redis", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryStore()
        return
    url = request.getfixturevalue("redis_url")
    made = RedisStore(url, prefix="test:")
    yield made
    made.client.close()


# --- helpers -------------------------------------------------------------------------


def counter_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Counts visits; /login rotates, /logout clears, /peek only reads, /none ignores."""
    path = environ["PATH_INFO"]
    if path == "/none":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"untouched"]
    session = get_session(environ)
    if path == "/login":
        session["user"] = "alice"
        session.rotate()
    elif path == "/logout":
        session.clear()
    elif path == "/cart":
        session.setdefault("cart", []).append(len(session["cart"]))
        session.modified = True
    elif path != "/peek":
        session["n"] = session.get("n", 0) + 1
    body = json.dumps(dict(session), sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def client(store: Any, app: WSGIApplication = counter_app, **options: Any) -> webtest.TestApp:
    options.setdefault("max_age", HOUR)
    return testapp(app, partial(SessionMiddleware, secret_key=SECRET, store=store, **options))


def seeded(store: Any, app: WSGIApplication) -> tuple[webtest.TestApp, str]:
    """A client of ``app`` holding the cookie of a stored session ``{"n": 1}``
    (written by :func:`counter_app`), and that cookie."""
    seed = client(store)
    seed.get("/")
    cookie: str = seed.cookies["session"]
    holder = client(store, app)
    holder.set_cookie("session", cookie)
    return holder, cookie


def session_id(cookie: str) -> str:
    """The session ID a cookie value carries, verified with itsdangerous directly."""
    signer = itsdangerous.TimestampSigner(
        SECRET,
        salt=b"wsgikit.session.id",
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )
    return signer.unsign(cookie.strip('"')).decode()


# --- the cookie holds only a signed random ID ------------------------------------------


def test_cookie_holds_only_a_signed_random_id(store: Any) -> None:
    app = client(store)
    assert [app.get("/").json["n"] for _ in range(3)] == [1, 2, 3]
    sid = session_id(app.cookies["session"])
    assert len(sid) >= 22  # token_urlsafe(32): 256 bits (>= 128 asked)
    assert store.load(sid) == {"n": "3"}
    assert app.cookies["session"].split(".")[0] == sid  # the ID, a timestamp, the MAC


def test_ids_are_unique_and_random(store: Any) -> None:
    ids = set()
    for _ in range(20):
        app = client(store)
        app.get("/")
        ids.add(session_id(app.cookies["session"]))
    assert len(ids) == 20


def test_untouched_session_touches_neither_store_nor_cookie(store: Any) -> None:
    calls: list[str] = []

    class Counting:
        def load(self, sid: str) -> dict[str, str]:
            calls.append("load")
            return dict(store.load(sid))

        def save(self, *args: Any, **kwargs: Any) -> None:
            calls.append("save")
            store.save(*args, **kwargs)

        def delete(self, sid: str) -> None:
            calls.append("delete")
            store.delete(sid)

    app = client(Counting())
    app.get("/")
    calls.clear()
    response = app.get("/none")
    assert calls == [] and "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers
    read = app.get("/peek")
    assert calls == ["load"] and "Set-Cookie" not in read.headers
    assert read.headers["Vary"] == "Cookie" and read.json == {"n": 1}


def test_ttl_is_max_age_and_refreshed_on_write(redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)  # closed at the end
    store = RedisStore(redis_url)
    app = client(store, max_age=1000)
    app.get("/")
    key = "wsgikit:session:" + session_id(app.cookies["session"])
    assert 990 <= raw.ttl(key) <= 1000
    raw.expire(key, 10)
    app.get("/peek")
    assert raw.ttl(key) <= 10  # a read writes nothing
    app.get("/")
    assert raw.ttl(key) >= 990  # a write refreshes the TTL
    raw.close()
    store.client.close()


def test_memory_store_expires_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    store = MemoryStore()
    store.save("a", {"k": "1"}, (), 10, fresh=True)
    assert store.load("a") == {"k": "1"} and len(store) == 1
    now[0] += 11
    assert store.load("a") == {} and len(store) == 0


def test_memory_store_sweeps_expired_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    store = MemoryStore(sweep=2)
    store.save("old", {"k": "1"}, (), 10, fresh=True)
    now[0] += 11
    store.save("new", {"k": "2"}, (), 10, fresh=True)  # the second write sweeps
    assert list(store._data) == ["new"]


def test_refresh_each_request_renews_a_read_session(redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    store = RedisStore(redis_url)
    app = client(store, max_age=1000, refresh_each_request=True)
    app.get("/")
    key = "wsgikit:session:" + session_id(app.cookies["session"])
    raw.expire(key, 10)
    read = app.get("/peek")
    assert "Max-Age=1000" in read.headers["Set-Cookie"] and raw.ttl(key) >= 990
    assert app.get("/none").headers.get("Set-Cookie") is None  # untouched: free
    raw.close()
    store.client.close()


def test_deleting_the_last_key_deletes_the_cookie(store: Any) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        if environ["PATH_INFO"] == "/drop":
            del session["n"]
        else:
            session["n"] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    app_ = client(store, app)
    app_.get("/")
    sid = session_id(app_.cookies["session"])
    response = app_.get("/drop")
    assert response.headers["Set-Cookie"].startswith("session=;")
    assert store.load(sid) == {}


def test_rotate_gives_a_new_id_keeps_the_data_and_drops_the_old_key(store: Any) -> None:
    app = client(store)
    app.get("/")
    before = session_id(app.cookies["session"])
    assert app.get("/login").json == {"n": 1, "user": "alice"}
    after = session_id(app.cookies["session"])
    assert after != before
    assert store.load(before) == {}
    assert {k: json.loads(v) for k, v in store.load(after).items()} == {"n": 1, "user": "alice"}
    assert app.get("/").json == {"n": 2, "user": "alice"}


def test_clear_deletes_the_stored_session_and_the_cookie(store: Any) -> None:
    app = client(store)
    app.get("/")
    sid = session_id(app.cookies["session"])
    response = app.get("/logout")
    assert response.headers["Set-Cookie"].startswith("session=;")
    assert store.load(sid) == {} and "session" not in app.cookies


def test_a_stolen_id_dies_with_the_stored_session(store: Any) -> None:
    """Revoked (deleted) server-side: the cookie no longer opens anything, and a
    new session gets a new ID rather than reusing the old one."""
    app = client(store)
    app.get("/")
    sid = session_id(app.cookies["session"])
    store.delete(sid)
    assert app.get("/").json == {"n": 1}
    assert session_id(app.cookies["session"]) != sid


def test_nested_change_with_modified_writes_only_the_changed_keys(store: Any) -> None:
    app = client(store)
    app.get("/")
    app.get("/cart")
    assert app.get("/cart").json == {"cart": [0, 1], "n": 1}
    sid = session_id(app.cookies["session"])
    assert json.loads(store.load(sid)["cart"]) == [0, 1]


def test_detect_changes_writes_only_the_key_changed_inside(store: Any) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        if environ["PATH_INFO"] == "/seed":
            session.update(cart=[], other="x")
        else:
            session["cart"].append(1)  # no modified = True
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    app_ = client(store, app, detect_changes=True)
    app_.get("/seed")
    sid = session_id(app_.cookies["session"])
    store.save(sid, {"other": '"changed elsewhere"'}, (), HOUR)  # a concurrent write
    app_.get("/")
    assert store.load(sid) == {"cart": "[1]", "other": '"changed elsewhere"'}


def test_concurrent_requests_keep_each_others_keys(store: Any) -> None:
    """8 threads, one session: each request loads, waits for all others to have
    loaded too, then writes its own key. Nothing is lost (the merge rule)."""
    threads = 8
    barrier = threading.Barrier(threads, timeout=20)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        session.get("seed")  # load first, as every request does
        barrier.wait()
        session[environ["QUERY_STRING"]] = True
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    app, cookie = seeded(store, app)
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            webtest.TestApp(app.app).get(f"/?k{number}", headers={"Cookie": f"session={cookie}"})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(30)
    assert errors == []
    stored = store.load(session_id(cookie))
    assert sorted(stored) == sorted([f"k{n}" for n in range(threads)] + ["n"])


def test_same_session_api_in_a_framework(store: Any) -> None:
    import flask

    inner = flask.Flask("stored")

    @inner.route("/")
    def index() -> Any:
        session = get_session(flask.request.environ)
        assert isinstance(session, Session)
        session["n"] = session.get("n", 0) + 1
        return flask.jsonify(n=session["n"], new=session.new)

    app = client(store, inner)
    assert app.get("/").json == {"n": 1, "new": True}
    assert app.get("/").json == {"n": 2, "new": False}


MEMORY = MemoryStore()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# "{a}session={a}.{b}": an id-like "id.signature" value among any text
@given(header_value=cookie_headers(lambda a, b: f"{a}."))
def test_any_cookie_header_gives_a_dict_session_with_a_store(header_value: str) -> None:
    seen: list[Any] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(dict(get_session(environ)))
        start_response("200 OK", [])
        return [b""]

    middleware = SessionMiddleware(app, SECRET, store=MEMORY)
    calls, _, _ = run_wsgi(middleware, {"HTTP_COOKIE": header_value})
    assert calls[-1][0] == "200 OK" and seen == [{}]


def test_two_app_servers_one_redis_and_a_restart(serve: Any, redis_url: str) -> None:
    """N app servers share the sessions in one Redis; a restart loses nothing."""
    env = {"E2E_REDIS_URL": redis_url}
    first = serve("e2e_sessions_apps:stored", env)
    second = serve("e2e_sessions_apps:stored", env)
    with requests.Session() as browser:
        counts = [browser.get(server.url + "/").json()["visits"] for server in (first, second) * 2]
        assert counts == [1, 2, 3, 4]
        first.stop()
        second.stop()
        again = serve("e2e_sessions_apps:stored", env)
        assert browser.get(again.url + "/").json() == {"visits": 5}
        logout = browser.get(again.url + "/logout")
        assert "Max-Age=0" in logout.headers["Set-Cookie"]
    with redis.Redis.from_url(redis_url) as raw:
        assert raw.keys("wsgikit:session:*") == []


def test_redis_example_workers_share_sessions(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/redis_session_counter.py, imported twice as two gunicorn workers would."""
    from test_sessions import _load_example

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SECRET_KEY", "example-key-" + "e" * 32)
    path = Path(__file__).resolve().parent.parent / "examples" / "redis_session_counter.py"
    workers = [webtest.TestApp(_load_example(path, f"w{n}").app) for n in range(2)]
    workers[0].get("/")
    cookie = workers[0].cookies["session"]
    workers[1].set_cookie("session", cookie)
    assert workers[1].get("/").json == {"visits": 2}
    assert workers[1].get("/login/ann").json == {"user": "ann", "visits": 2}
    assert workers[1].cookies["session"] != cookie  # rotated
    for worker in workers:
        worker.app.app.store.client.close()


# --- the store is down ---------------------------------------------------------------


def dead_store() -> RedisStore:
    return RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)


def test_redis_down_is_a_logged_503_through_json_errors(caplog: pytest.LogCaptureFixture) -> None:
    store = dead_store()
    app = testapp(
        counter_app, JSONErrors, partial(SessionMiddleware, secret_key=SECRET, store=store)
    )
    with caplog.at_level(logging.INFO):
        response = app.get("/", status=503, expect_errors=True)
    assert response.json["status"] == 503
    assert "Set-Cookie" not in response.headers
    assert "SessionStoreError" in caplog.text or "session store failed" in caplog.text


def test_redis_down_never_gives_an_empty_session(redis_url: str) -> None:
    """A read that fails raises: the app never sees (and writes back) an empty session."""
    store = RedisStore(redis_url)
    app = client(store)
    app.get("/")
    app.get("/")
    cookie = app.cookies["session"]
    broken = RedisStore(f"redis://127.0.0.1:{free_port()}/0", prefix="wsgikit:session:")
    seen: list[Any] = []

    def reader(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            seen.append(dict(get_session(environ)))
        except SessionStoreError:
            seen.append("raised")
            raise
        start_response("200 OK", [])
        return [b""]

    down = SessionMiddleware(reader, SECRET, store=broken)
    with pytest.raises(SessionStoreError):
        down({"HTTP_COOKIE": f"session={cookie}", "PATH_INFO": "/"}, lambda *a: None)
    assert seen == ["raised"]
    assert app.get("/").json == {"n": 3}  # the data survived
    store.client.close()


class Flaky(MemoryStore):
    """A MemoryStore whose next ``failures`` reads fail."""

    failures = 0

    def load(self, sid: str) -> dict[str, str]:
        if self.failures:
            self.failures -= 1
            raise SessionStoreError("cannot read the session: flaky")
        return super().load(sid)


def test_an_app_that_swallows_the_store_error_cannot_overwrite_the_session() -> None:
    store = Flaky()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        with contextlib.suppress(SessionStoreError):  # a careless app goes on
            session.get("a")
        session["b"] = 2
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    careless, cookie = seeded(store, app)
    store.failures = 1
    careless.get("/")  # the write loads the session again (now up): nothing lost
    assert {k: json.loads(v) for k, v in store.load(session_id(cookie)).items()} == {
        "n": 1,
        "b": 2,
    }
    store.failures = 2  # still down at the write: the write fails too
    with pytest.raises(SessionStoreError):
        careless.get("/")
    assert len(store.load(session_id(cookie))) == 2


def test_write_failure_raises_before_the_response_starts() -> None:
    started: list[str] = []
    app = SessionMiddleware(counter_app, SECRET, store=dead_store(), max_age=HOUR)
    with pytest.raises(SessionStoreError, match="cannot write"):
        app(
            {"PATH_INFO": "/", "REQUEST_METHOD": "GET"},
            lambda status, headers: started.append(status),
        )
    assert started == []


def test_store_error_is_a_503_class() -> None:
    assert SessionStoreError.code == 503


# --- options ---------------------------------------------------------------------------


def test_redis_store_accepts_a_client_object(redis_url: str) -> None:
    made = redis.Redis.from_url(redis_url)
    store = RedisStore(made, prefix="custom:")
    store.save("x", {"a": "1"}, (), 60, fresh=True)
    assert made.hgetall("custom:x") == {b"a": b"1"} and store.client is made
    made.close()


# --- review fixes -------------------------------------------------------------------


def test_an_in_flight_request_cannot_revive_a_rotated_id(
    store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Request A loads the session; request B rotates it; A's write is dropped."""
    caplog.set_level(logging.INFO, "wsgikit.sessions")
    store.save("old", {"n": "1", "user": '"alice"'}, (), HOUR, fresh=True)
    loaded = store.load("old")  # request A
    store.save("new", loaded, (), HOUR, fresh=True, retire="old")  # request B: rotate()
    store.save("old", {"n": "2"}, (), HOUR)  # request A finishes
    assert store.load("old") == {}
    assert store.load("new") == {"n": "1", "user": '"alice"'}
    assert "session write dropped" in caplog.text
    store.delete("new")  # logout, then a late write
    store.save("new", {"n": "3"}, ["user"], HOUR)
    assert store.load("new") == {}


def test_a_write_to_a_live_session_still_merges(store: Any) -> None:
    store.save("s", {"a": "1", "b": "2", "c": "3"}, (), HOUR, fresh=True)
    store.save("s", {"a": "10", "d": "4"}, ["b"], HOUR)
    store.save("s", {}, ["c"], HOUR)
    assert store.load("s") == {"a": "10", "d": "4"}


def test_a_late_write_through_the_middleware_is_dropped(store: Any) -> None:
    """The same race through SessionMiddleware: an old cookie's request that
    writes after the session was rotated leaves the old ID dead."""
    other: list[webtest.TestApp] = []

    def racing(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        session["n"] = session.get("n", 0) + 1  # loaded: this request is in flight
        if environ["PATH_INFO"] == "/race":
            other[0].get("/login")  # meanwhile the same session logs in (rotates)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    app = client(store, racing)
    app.get("/")
    old = session_id(app.cookies["session"])
    other.append(client(store))
    other[0].set_cookie("session", app.cookies["session"])
    app.get("/race")
    assert store.load(old) == {}
    new = session_id(other[0].cookies["session"])
    assert new != old
    assert other[0].get("/").json == {"n": 2, "user": "alice"}


def test_memory_store_drops_a_write_to_an_expired_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryStore()
    store.save("s", {"a": "1"}, (), 10, fresh=True)
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 11)
    store.save("s", {"a": "2"}, (), 10)
    assert store.load("s") == {} and len(store) == 0


def test_a_server_that_lost_the_script_still_merges_and_guards(redis_url: str) -> None:
    """The write's script is run by its SHA; a Redis that forgot it (restarted,
    SCRIPT FLUSH) gets it again, with the same checks."""
    store = RedisStore(redis_url)
    store.save("lost", {"a": "1"}, (), 60, fresh=True)
    store.client.script_flush()
    store.save("lost", {"b": "2"}, (), 60)
    assert store.load("lost") == {"a": "1", "b": "2"}
    store.client.script_flush()
    store.delete("lost")
    store.save("lost", {"c": "3"}, (), 60)  # ended meanwhile: never re-created
    assert store.load("lost") == {}


@pytest.mark.parametrize("rotate", [False, True], ids=["new session", "rotated"])
def test_a_response_replaced_with_exc_info_stores_the_session_once(rotate: bool) -> None:
    """The session is written for the first start_response and again for the
    replacement: both writes go to one stored ID, the one the cookie names."""
    store = MemoryStore()
    replacing = exc_info_app(content_type="text/plain")  # a 200, then a 500 with exc_info

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        session["user"] = "alice"
        if rotate:
            session.rotate()
        return replacing(environ, start_response)

    calls, _, _ = run_wsgi(SessionMiddleware(app, SECRET, store=store, max_age=HOUR))
    assert [status for status, _ in calls] == ["200 OK", "500 Internal Server Error"]
    assert len(store) == 1
    cookie = dict(calls[-1][1])["Set-Cookie"]
    sid = cookie.split("=", 1)[1].split(";", 1)[0].split(".", 1)[0]
    assert store.load(sid) == {"user": '"alice"'}


def _stored_session_app(kind: str, tracked: Tracked) -> WSGIApplication:
    """Sets a session key, then answers as ``kind``: a list body, a body that
    raises mid-way, the write() callable, or a 204/304 without a body."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        get_session(environ)["kind"] = kind
        status = kind if kind[:3] in ("204", "304") else "200 OK"
        write = start_response(
            status, [("Content-Type", "text/plain")] if status == "200 OK" else []
        )
        if kind == "write()":
            write(b"written")
        return tracked

    return app


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    "kind", ["list", "raises mid-body", "write()", "204 No Content", "304 Not Modified"]
)
def test_a_stored_session_is_saved_once_on_every_kind_of_response(kind: str, method: str) -> None:
    """With store=, as with cookies: the data is stored under the ID the
    cookie names, exactly one session per request, the app's body closed once."""
    store = MemoryStore()
    bodyless = kind[:3] in ("204", "304")
    tracked = Tracked(
        [] if bodyless else [b"a", b"b"], fail_at=1 if kind == "raises mid-body" else None
    )
    app = SessionMiddleware(_stored_session_app(kind, tracked), SECRET, store=store, max_age=HOUR)
    if kind == "raises mid-body":
        with pytest.raises(RuntimeError, match="boom"):
            run_wsgi(linted(app), {"REQUEST_METHOD": method})
    else:
        calls, _, _ = run_wsgi(linted(app), {"REQUEST_METHOD": method})
        cookie = dict(calls[-1][1])["Set-Cookie"]
        sid = cookie.split("=", 1)[1].split(";", 1)[0].split(".", 1)[0]
        assert store.load(sid) == {"kind": json.dumps(kind)}
    assert len(store) == 1
    assert tracked.closes == 1
