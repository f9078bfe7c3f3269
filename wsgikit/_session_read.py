"""Reading the session cookie: what :class:`~wsgikit.SessionMiddleware` does
on a session's first access (find the cookie, verify it, decode it, or say in
a bounded log line why the session starts empty)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from itsdangerous import BadData, SignatureExpired

from ._session_cookie import cookie_values
from ._session_store import Found, StoredSessions
from ._session_util import LogThrottle
from ._signing import Codec

logger = logging.getLogger("wsgikit.sessions")

#: Seconds during which further bad cookies are logged at DEBUG only.
BAD_COOKIE_LOG_INTERVAL = 60


class CookieReader:
    """Turns the ``Cookie`` header of a request into the session's data.

    :param name: The cookie's name.
    :param codec: Verifies values (the keys, salt and digest).
    :param max_age: Seconds a cookie stays valid, or ``None``.
    :param loads: The serializer's text-to-data function.
    :param keep_text: Keep the serialised text of the data (``detect_changes``).
    """

    def __init__(
        self,
        name: str,
        codec: Codec,
        max_age: int | None,
        loads: Callable[[str], Any],
        keep_text: bool,
    ) -> None:
        self._name = name
        self._codec = codec
        self._max_age = max_age
        self._loads = loads
        self._keep_text = keep_text
        #: With a store: the cookie holds an ID, the data is there.
        self.stored: StoredSessions | None = None
        # Bad cookies are logged at their level once per interval, else DEBUG.
        self._throttle = LogThrottle(BAD_COOKIE_LOG_INTERVAL)

    def open(self, header: str | None) -> tuple[Found | None, bool]:
        """Return what the request's cookie holds, and whether one was sent.

        ``None`` when there is no cookie of this name or none of them is
        valid (tampered, expired, malformed, unknown to the store ...).
        """
        name = self._name
        if not header or name not in header:
            return None, False
        values = cookie_values(header, name)
        if values is None:
            self.log_bad(logging.WARNING, "the Cookie header has a malformed %s cookie", name)
            return None, True
        if not values:
            return None, False
        if len(values) == 1:
            return self.verify(values[0]), True
        self.log_bad(
            logging.INFO, "%d cookies named %s; using the valid one signed last", len(values), name
        )
        best: Found | None = None
        best_time = -1.0
        for value in values:
            signed = self._signed_at(value)
            if signed > best_time:
                found = self.verify(value)
                if found is not None:
                    best, best_time = found, signed
        return best, True

    def verify(self, value: str) -> Found | None:
        """Return the cookie's data, or ``None`` (and a log line) if it is bad."""
        try:
            payload = self._codec.unsign_timed(value, self._max_age)[0]
        except SignatureExpired as error:
            self.log_bad(logging.INFO, "session cookie %s expired (%s)", self._name, error)
            return None
        except BadData:
            self.log_bad(
                logging.WARNING,
                "session cookie %s (%d bytes) has a bad signature or format (or was signed "
                "with a key this process lacks); starting an empty session",
                self._name,
                len(value),
            )
            return None
        except (ValueError, OverflowError, OSError):  # a validly signed absurd timestamp
            self.log_bad(
                logging.WARNING, "session cookie %s has an impossible timestamp", self._name
            )
            return None
        if self.stored is not None:
            return self.stored.load(payload.decode("ascii"), self._name)
        try:
            # decode(), inlined: every read of a session comes here.
            text = self._codec.load_text(payload)
            data = self._loads(text)
        except Exception as error:  # anything a serializer raises on client input
            cause = getattr(error, "original_error", None) or error
            self.log_bad(
                logging.WARNING,
                "session cookie %s is signed but cannot be decoded (%s); starting an empty session",
                self._name,
                type(cause).__name__,
            )
            return None
        if not isinstance(data, dict):
            self.log_bad(
                logging.WARNING,
                "session cookie %s holds a JSON %s, not an object; starting an empty session",
                self._name,
                type(data).__name__,
            )
            return None
        return data, None, text if self._keep_text else None

    def decode(self, payload: bytes) -> tuple[str, Any]:
        """The serialised text and the data of a verified payload (the text is
        kept for ``detect_changes``)."""
        text = self._codec.load_text(payload)
        return text, self._loads(text)

    def log_bad(self, level: int, message: str, *args: object) -> None:
        """Log a bad cookie at ``level`` at most once per :data:`BAD_COOKIE_LOG_INTERVAL`
        seconds (per middleware), and at DEBUG in between.

        A bad cookie is kept (the middleware never deletes it for that alone),
        so the browser sends it again on every request: unbounded, the line
        would flood the log.
        """
        if not self._throttle.due():
            logger.debug(message, *args)
            return
        logger.log(
            level,
            message + " (more bad cookies in the next %d s are logged at DEBUG)",
            *args,
            BAD_COOKIE_LOG_INTERVAL,
        )

    def _signed_at(self, value: str) -> float:
        """When a validly signed, unexpired ``value`` was signed; -1 if it is not one."""
        try:
            return self._codec.unsign_timed(value, self._max_age)[1]
        except (BadData, ValueError, OverflowError, OSError):
            return -1.0
