"""Server-side session stores for ``SessionMiddleware(store=...)``.

With a store, the session cookie holds only a signed random session ID; the
data lives in the store, one field per session key, each value serialised on
its own. That layout is what makes concurrent requests of one session safe:
a request writes only the keys it set or deleted (the merge rule), so two
requests that change *different* keys never lose each other's writes. Two
requests that change the *same* key: the last write wins.

- :class:`RedisStore` -- the product: Redis (a hash per session, written in
  one ``MULTI``/``EXEC`` transaction, expiring after ``max_age``). Any number
  of app servers can share one Redis; Redis Cluster and Sentinel work through
  a client object made by the ``redis`` package.
- :class:`MemoryStore` -- one process, no server: for development and for
  the tests of an app. Sessions vanish when the process ends, and other
  processes (``gunicorn -w 4``) do not see them.

Write your own by implementing :class:`SessionStore`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any, Protocol, runtime_checkable

from ._http import HTTPStatusError
from ._options import check_int, check_seconds

logger = logging.getLogger("wsgikit.sessions")

__all__ = ["MemoryStore", "RedisStore", "SessionStore", "SessionStoreError"]


class SessionStoreError(HTTPStatusError):
    """The session store cannot be reached or failed.

    Raised instead of handing the app an empty session (which it would then
    write back over the real data). It carries ``code = 503``, so
    :class:`~wsgikit.JSONErrors` answers ``503 Service Unavailable``.
    """

    code = 503
    description = "The session store is unavailable; retry later."


@runtime_checkable
class SessionStore(Protocol):
    """What ``SessionMiddleware(store=...)`` needs from a store.

    Session data is a mapping of field (the session key) to its serialised
    text; the store never looks inside. Every method raises
    :class:`SessionStoreError` when the store fails.
    """

    def load(self, sid: str) -> dict[str, str]:
        """The fields of session ``sid`` (empty when unknown or expired)."""
        ...

    def save(
        self,
        sid: str,
        changed: Mapping[str, str],
        deleted: Collection[str],
        ttl: int,
        *,
        fresh: bool = False,
        retire: str | None = None,
    ) -> None:
        """Atomically set ``changed``, delete ``deleted`` and expire ``sid``
        ``ttl`` seconds from now. ``fresh``: drop the session's other fields
        first (a new ID). ``retire``: then delete that (older) session ID too.

        Without ``fresh``, write nothing when ``sid`` is no longer stored
        (rotated, cleared or expired since this request loaded it), so an
        in-flight request cannot bring an ended session ID back; log it at
        INFO on ``wsgikit.sessions``."""
        ...

    def delete(self, sid: str) -> None:
        """Forget session ``sid``."""
        ...


class MemoryStore:
    """Sessions in this process's memory (thread-safe, one process only).

    For development and tests: data is lost on restart and not shared
    between worker processes. Expired sessions are dropped when touched and
    swept every ``sweep`` writes.
    """

    def __init__(self, *, sweep: int = 1000) -> None:
        self.sweep = check_int("sweep", sweep, minimum=1)
        self._data: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._writes = 0

    def __len__(self) -> int:
        """The number of live sessions."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for expires, _ in self._data.values() if expires > now)

    def load(self, sid: str) -> dict[str, str]:
        with self._lock:
            entry = self._data.get(sid)
            if entry is None:
                return {}
            if entry[0] <= time.monotonic():
                del self._data[sid]
                return {}
            return dict(entry[1])

    def save(
        self,
        sid: str,
        changed: Mapping[str, str],
        deleted: Collection[str],
        ttl: int,
        *,
        fresh: bool = False,
        retire: str | None = None,
    ) -> None:
        now = time.monotonic()
        with self._lock:
            if retire is not None:
                self._data.pop(retire, None)
            entry = self._data.get(sid)
            if not fresh and (entry is None or entry[0] <= now):
                _dropped()
                return
            fields = {} if fresh or entry is None else entry[1]
            fields.update(changed)
            for field in deleted:
                fields.pop(field, None)
            if fields:
                self._data[sid] = (now + ttl, fields)
            else:
                self._data.pop(sid, None)
            self._writes += 1
            if self._writes % self.sweep == 0:
                for key in [key for key, (expires, _) in self._data.items() if expires <= now]:
                    del self._data[key]

    def delete(self, sid: str) -> None:
        with self._lock:
            self._data.pop(sid, None)


class RedisStore:
    """Sessions in Redis: one hash per session, ``prefix + session ID``.

    A write is one atomic step on the session's key (``HSET`` of the changed
    keys, ``HDEL`` of the deleted ones, ``EXPIRE``), so concurrent requests of
    one session keep each other's changes to different keys. A write to an
    existing session is a Lua script that first checks the key still exists:
    a request that loaded a session rotated or ended meanwhile does not bring
    its ID back (the write is dropped and logged at INFO). A hash left without
    fields is removed by Redis itself. A rotated session's old key is deleted
    right after its data is written under the new ID (a second command, so that
    it works on Redis Cluster).

    :param url: A ``redis://``, ``rediss://`` or ``unix://`` URL (given to
        ``redis.Redis.from_url``), or a client object made by the ``redis``
        package -- ``redis.cluster.RedisCluster`` or a Sentinel's
        ``master_for(...)`` -- for Cluster and Sentinel set-ups.
    :param prefix: Prepended to the session ID to make the Redis key.
    :param timeout: Seconds to wait for Redis (connect and each command)
        when ``url`` is a URL; past it the request fails with
        :class:`SessionStoreError` (a 503) instead of hanging.

    Needs the ``redis`` package: ``pip install wsgikit[redis]``.
    """

    def __init__(
        self, url: str | Any, *, prefix: str = "wsgikit:session:", timeout: float = 2.0
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix: must be a str, not {type(prefix).__name__}")
        timeout = check_seconds("timeout", timeout, positive=True)
        try:
            import redis
        except ImportError as error:  # pragma: no cover - the extra is missing
            raise ImportError(
                "RedisStore needs the redis package: pip install wsgikit[redis]"
            ) from error
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._no_script: type[BaseException] = redis.exceptions.NoScriptError
        if isinstance(url, str):
            if not url.startswith(("redis://", "rediss://", "unix://")):
                # Not echoed: a Redis URL may carry a password.
                raise ValueError("url: must be a redis://, rediss:// or unix:// URL")
            self.client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        elif callable(getattr(url, "pipeline", None)):
            self.client = url
        else:
            raise TypeError("url: must be a redis:// URL or a redis client object")
        self.url = url
        self.prefix = prefix
        self._update = self.client.register_script(_UPDATE)

    def __repr__(self) -> str:
        return f"RedisStore({self.prefix!r})"

    def load(self, sid: str) -> dict[str, str]:
        try:
            raw = self.client.hgetall(self.prefix + sid)
        except self._errors as error:
            raise _unavailable("read", error) from error
        return {_text(field): _text(value) for field, value in raw.items()}

    def save(
        self,
        sid: str,
        changed: Mapping[str, str],
        deleted: Collection[str],
        ttl: int,
        *,
        fresh: bool = False,
        retire: str | None = None,
    ) -> None:
        key = self.prefix + sid
        try:
            if not fresh:
                # Checked and written in one step (a script runs atomically),
                # on one key, so it works on Redis Cluster too.
                args: list[str | int] = [
                    ttl,
                    len(deleted),
                    *deleted,
                    *(item for pair in changed.items() for item in pair),
                ]
                try:
                    # EVALSHA directly: the redis package's Script object
                    # costs ~9 µs per call (imports, checks) before the same
                    # command; it is only needed when the server lacks the script.
                    written = self.client.evalsha(self._update.sha, 1, key, *args)
                except self._no_script:  # a restarted or flushed server: load it
                    written = self._update(keys=[key], args=args)
                if not written:
                    _dropped()
                return
            # One key per transaction: Redis Cluster refuses a MULTI whose
            # keys live in different slots, as an old and a new ID would.
            with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                if changed:
                    pipe.hset(key, mapping=dict[Any, Any](changed))
                pipe.expire(key, ttl)
                pipe.execute()
            if retire is not None:  # after the new ID holds the data
                self.client.delete(self.prefix + retire)
        except self._errors as error:
            raise _unavailable("write", error) from error

    def delete(self, sid: str) -> None:
        try:
            self.client.delete(self.prefix + sid)
        except self._errors as error:
            raise _unavailable("delete", error) from error


# KEYS[1]: the session's hash. ARGV: ttl, the number n of fields to delete,
# those n fields, then field/value pairs to set. Nothing is written when the
# hash is gone (rotated, cleared or expired): returns 0.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[2])
if n > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 3, 2 + n)) end
if #ARGV > 2 + n then redis.call('HSET', KEYS[1], unpack(ARGV, 3 + n, #ARGV)) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


def _dropped() -> None:
    logger.info(
        "session write dropped: the session was rotated or ended (cleared, expired) "
        "while this request ran"
    )


def _unavailable(action: str, error: BaseException) -> SessionStoreError:
    return SessionStoreError(
        f"cannot {action} the session in Redis: {type(error).__name__}: {error}"
    )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
