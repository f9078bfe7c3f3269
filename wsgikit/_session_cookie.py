"""The session cookie on the wire: finding it in a ``Cookie`` header and writing
its ``Set-Cookie`` (used by :mod:`wsgikit.sessions`).

Both are werkzeug's results, reached in fewer steps on the common request:

- :func:`cookie_values` answers a header that holds nothing but one cookie of
  our name with a signed-looking value by slicing it; any other header goes
  through werkzeug's ``parse_cookie`` (``tests/test_sessions.py`` compares the
  two over generated headers).
- :class:`CookieTemplate` asks werkzeug's ``dump_cookie`` for the attributes
  once, at construction, and then only joins strings; ``Expires`` is
  formatted once a second (the same table of tests compares every option
  combination with ``dump_cookie``).
"""

from __future__ import annotations

import re
import time

from werkzeug.http import dump_cookie, http_date
from werkzeug.sansio.http import parse_cookie

# What a value signed by itsdangerous is made of (base64url and dots): werkzeug
# reads such a value as it is, and writes it unquoted. (A value is made of
# them when deleting them leaves nothing: half the time of a regex match.)
_SIGNED_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"


def cookie_values(header: str, name: str) -> list[str] | None:
    """The values of every cookie ``name`` in ``header``, in order: what
    ``werkzeug.sansio.http.parse_cookie(header).getlist(name)`` returns after
    the header's latin-1 text was read as UTF-8.

    :return: ``None`` instead of ``[]`` when the header mentions a cookie of
        this name that werkzeug cannot read (malformed), to be logged.
    """
    # The common request: "name=<signed value>" and nothing else.
    if header.startswith(name) and header[len(name) : len(name) + 1] == "=":
        value = header[len(name) + 1 :]
        if value.isascii() and not value.encode().translate(None, _SIGNED_CHARS):
            return [value]
    # PEP 3333 headers are latin-1; cookies are UTF-8 on the wire. Not
    # werkzeug.http.parse_cookie, which does this step strictly: it raises
    # UnicodeDecodeError when *any* cookie in the header is not UTF-8 (and
    # UnicodeEncodeError for a non-latin-1 str), so a neighbour's cookie
    # would cost us the session. werkzeug's own sans-IO parser does the rest.
    text = header.encode("latin-1", "replace").decode("utf-8", "replace")
    values = parse_cookie(text).getlist(name)
    if not values and re.search(rf"(?:^|[;,\s]){re.escape(name)}\s*=", text):
        return None
    return values


#: :func:`header_flags`: the response has a ``Vary`` header.
VARY = 1
#: :func:`header_flags`: the response sets a cookie of the name asked.
OURS = 2


def header_flags(headers: list[tuple[str, str]], name: str) -> int:
    """Whether a response's headers hold a ``Vary`` (:data:`VARY`) and a
    ``Set-Cookie`` for cookie ``name`` (:data:`OURS`), in one pass."""
    # Every response of a session comes here, and most have neither: only
    # names of the two lengths are lower-cased.
    flags = 0
    for key, value in headers:
        size = len(key)
        if size == 4:
            if key.lower() == "vary":
                flags |= VARY
        elif size == 10 and key.lower() == "set-cookie" and value.split("=", 1)[0].strip() == name:
            flags |= OURS
    return flags


def set_cookie_indexes(headers: list[tuple[str, str]], name: str) -> list[int]:
    """The indexes of the ``Set-Cookie`` headers (of a response) for cookie ``name``."""
    return [
        index
        for index, (key, value) in enumerate(headers)
        if len(key) == 10  # most headers are not: skip lower()
        and key.lower() == "set-cookie"
        and value.split("=", 1)[0].strip() == name
    ]


class CookieTemplate:
    """``Set-Cookie`` values for one cookie name and set of attributes, byte
    for byte what ``werkzeug.http.dump_cookie`` writes.

    :param name: The cookie's name (an RFC 9110 token).
    :param max_age: Seconds sent as ``Max-Age`` (with ``Expires``) by
        :meth:`lasting`; ``None`` when only :meth:`browser_session` is used.
    :param attributes: ``path``, ``domain``, ``secure``, ``httponly``,
        ``samesite``, ``partitioned``, as ``dump_cookie`` takes them.
    """

    def __init__(self, name: str, max_age: int | None, **attributes: object) -> None:
        options: dict[str, object] = {**attributes, "max_size": 0}  # sizes are checked by us
        self._prefix = name + "="
        start = len(self._prefix)
        self._session_tail = dump_cookie(name, "", **options)[start:]  # type: ignore[arg-type]
        self._max_age = max_age
        self._expires_head = self._lasting_tail = ""
        if max_age is not None:
            # A marker where the date goes; dump_cookie places Expires
            # between Domain and Max-Age.
            lasting = dump_cookie(name, "", max_age=max_age, expires="\0", **options)  # type: ignore[arg-type]
            self._expires_head, self._lasting_tail = lasting[start:].split("\0")
        #: The ``Set-Cookie`` that deletes the cookie.
        self.delete = dump_cookie(name, "", max_age=0, expires=0, **options)  # type: ignore[arg-type]
        self._expires: tuple[int, str] = (-1, "")

    def browser_session(self, value: str) -> str:
        """A cookie without ``Expires``/``Max-Age`` (gone when the browser closes).

        ``value`` must be a signed value (base64url and dots), which needs no quoting.
        """
        return self._prefix + value + self._session_tail

    def lasting(self, value: str, now: int | None = None) -> str:
        """A cookie that expires ``max_age`` seconds after ``now`` (default: the time)."""
        if now is None:
            now = int(time.time())
        second, date = self._expires
        if second != now:
            date = http_date(now + (self._max_age or 0))
            self._expires = (now, date)
        return self._prefix + value + self._expires_head + date + self._lasting_tail
