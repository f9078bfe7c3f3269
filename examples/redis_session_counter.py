"""Server-side sessions in Redis: the cookie holds only a signed session ID.

    redis-server --port 6379 &
    export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')
    REDIS_URL=redis://127.0.0.1:6379/0 gunicorn -w 4 examples.redis_session_counter:app
    curl -c jar -b jar http://127.0.0.1:8000/            # {"visits": 1}, 2, 3... on any worker
    curl -c jar -b jar http://127.0.0.1:8000/login/ann   # a new session ID, same data
    curl -c jar -b jar http://127.0.0.1:8000/logout      # deletes the data and the cookie

Without REDIS_URL it keeps sessions in this process's memory (one process only).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

from wsgikit import JSONErrors, MemoryStore, RedisStore, SessionMiddleware, get_session
from wsgikit.stores import SessionStore

log = logging.getLogger(__name__)

# Every worker must sign with the same key: from the environment, or this
# public development key (never in production).
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    log.warning("SECRET_KEY is not set: using the public development key (never in production)")
    SECRET_KEY = "INSECURE-development-only-key-change-me-0123456789"

store: SessionStore
if os.environ.get("REDIS_URL"):
    store = RedisStore(os.environ["REDIS_URL"])
else:
    log.warning("REDIS_URL is not set: sessions live in this process's memory only")
    store = MemoryStore()


def counter(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    session = get_session(environ)
    path = environ.get("PATH_INFO", "/")
    if path.startswith("/login/"):
        session["user"] = path.removeprefix("/login/")
        session.rotate()  # against session fixation: a new ID after a login
    elif path == "/logout":
        session.clear()
    else:
        session["visits"] = session.get("visits", 0) + 1
    body = json.dumps(dict(session)).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


# JSONErrors outside: Redis down becomes a 503 problem+json.
app = JSONErrors(SessionMiddleware(counter, SECRET_KEY, store=store, max_age=3600))

if __name__ == "__main__":
    from waitress import serve

    serve(app, host="127.0.0.1", port=8000)
