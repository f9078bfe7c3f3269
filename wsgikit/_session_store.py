"""Server-side sessions: what :class:`~wsgikit.SessionMiddleware` does with a
``store=`` (load the session an ID names, write back this request's changes).

The cookie is the middleware's business; here the ID it carries becomes data
and the data's changes become one atomic ``save`` of the store.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from ._session_dict import Session
from ._session_util import LogThrottle
from .stores import SessionStore, SessionStoreError

logger = logging.getLogger("wsgikit.sessions")

#: Seconds during which further store failures are logged at DEBUG only.
FAILURE_LOG_INTERVAL = 60

# What a cookie holds once verified: the data, the stored session's ID (with
# a store) and the data as it was serialised (see Session._seen).
Found = tuple[dict[str, Any], str | None, Any]


class StoredSessions:
    """Sessions kept in ``store``, each value serialised on its own.

    :param store: The :class:`~wsgikit.stores.SessionStore`.
    :param ttl: Seconds a stored session lives after its last write.
    :param serialise: A value to text (raises ``TypeError`` when it cannot).
    :param loads: Text back to a value.
    :param log_bad: Logs a bad or unknown session (the middleware's bounded log).
    """

    def __init__(
        self,
        store: SessionStore,
        ttl: int,
        serialise: Callable[[Any], str],
        loads: Callable[[str], Any],
        log_bad: Callable[..., None],
    ) -> None:
        self.store = store
        self._ttl = ttl
        self._serialise = serialise
        self._loads = loads
        self._log_bad = log_bad
        self._throttle = LogThrottle(FAILURE_LOG_INTERVAL)

    def load(self, sid: str, cookie_name: str) -> Found | None:
        """The stored session ``sid``: its data, ID and field texts (``None``:
        not in the store).

        :raises SessionStoreError: When the store fails (logged).
        """
        try:
            fields = self.store.load(sid)
        except SessionStoreError as error:
            raise self.failed(error) from error
        if not fields:
            self._log_bad(
                logging.INFO,
                "session %s is not in the store (expired or revoked); starting a new session",
                cookie_name,
            )
            return None
        data: dict[str, Any] = {}
        for key, text in fields.items():
            try:
                data[key] = self._loads(text)
            except Exception as error:
                # Left alone in the store: only keys this request changes are written.
                logger.warning(
                    "stored session key %r cannot be decoded (%s); the app does not see it",
                    key,
                    type(error).__name__,
                )
        return data, sid, fields

    def save(self, session: Session, refresh: bool, every_key: bool) -> str | None:
        """Write the session's changes to the store.

        The merge rule: only the keys this request set or deleted are
        written (all keys whose serialised value changed, after
        ``modified = True`` or with ``every_key``, i.e. ``detect_changes``),
        in one atomic step of the store, so concurrent requests keep each
        other's other keys. A new ID (a new session, ``rotate()``,
        ``clear()``) gets everything.

        :param refresh: Write (renew the TTL) even when nothing changed.
        :return: The ID to send in the cookie, ``""`` to delete the cookie,
            ``None`` to send none.
        :raises SessionStoreError: When the store fails (logged).
        """
        store = self.store
        sid = session._sid
        data = dict(dict.items(session))
        try:
            if sid is None or session._cleared or session._rotated:
                if not data:
                    if sid is not None and session._cleared:
                        store.delete(sid)
                    return "" if session._had_cookie and session._modified else None
                if not (session._modified or refresh):
                    return None
                new = secrets.token_urlsafe(32)  # 256 bits
                fields = {key: self._serialise(value) for key, value in data.items()}
                retire = sid if session._cleared or session._rotated else None
                store.save(new, fields, (), self._ttl, fresh=True, retire=retire)
                # The session now lives under ``new``: a second write in this
                # request (the response replaced with exc_info) updates it
                # rather than storing another, orphaned copy.
                session._sid = new
                session._cleared = session._rotated = False
                session._seen = fields
                return new
            touched = session._touched or set()
            deleted = [key for key in touched if key not in data]
            if session._everything or every_key:
                seen = session._seen or {}
                texts = {key: self._serialise(value) for key, value in data.items()}
                changed = {key: text for key, text in texts.items() if seen.get(key) != text}
            else:
                changed = {key: self._serialise(data[key]) for key in touched if key in data}
            if not (changed or deleted or session._modified or refresh):
                return None
            store.save(sid, changed, deleted, self._ttl)
        except SessionStoreError as error:
            raise self.failed(error) from error
        if not data:
            return "" if session._had_cookie else None
        return sid

    def failed(self, error: SessionStoreError) -> SessionStoreError:
        """Log a store failure (ERROR, then DEBUG for a minute) and return it to raise."""
        level = logging.ERROR if self._throttle.due() else logging.DEBUG
        logger.log(level, "session store failed, the request fails with a 503: %s", error)
        return error
