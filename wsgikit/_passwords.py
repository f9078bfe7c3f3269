"""Password hashes and user tables, for :class:`~wsgikit.auth.BasicAuth`.

- :func:`parse_hash` accepts bcrypt (``$2a$``, ``$2b$``, ``$2y$``; needs the
  ``bcrypt`` package) and Apache ``{SHA}`` hashes and refuses every other
  format with a ``ValueError`` that names it.
- :func:`users_table` and :func:`read_htpasswd` build a table of user name to
  hash from a mapping or an htpasswd file, failing closed: a name with a bad
  or repeated entry is left out, never kept from an older version.
- :class:`UserTable` checks a password in constant time, against a stand-in
  hash for an unknown user, remembers successful bcrypt checks in a bounded
  cache, and reloads an htpasswd file when it changes.

Nothing here reads a request; BasicAuth decodes the credentials and logs the
outcome. Reloads log on ``wsgikit.auth``, the logger BasicAuth uses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType

from ._http import log_safe
from ._options import check_int, check_seconds

logger = logging.getLogger("wsgikit.auth")

#: What :meth:`UserTable.check` returns for a name not in the table.
UNKNOWN_USER = "unknown user"
#: What :meth:`UserTable.check` returns for a wrong password.
WRONG_PASSWORD = "wrong password for user"

# RFC 7617 section 2: user-id and password MUST NOT contain control characters.
CTL_RE = re.compile(r"[\x00-\x1f\x7f]")
# bcrypt as written by htpasswd -B, the bcrypt package and PHP: $2a$, $2b$, $2y$.
_BCRYPT_RE = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_SHA_PREFIX = "{SHA}"
_SHA1_SIZE = 20
# bcrypt reads at most 72 bytes of a password; the bcrypt package (>= 5)
# refuses longer ones instead of truncating as htpasswd and older versions did.
_BCRYPT_MAX_PASSWORD = 72
_BCRYPT_EXTRA = "pip install 'wsgikit[bcrypt]'"
_NOT_SUPPORTED = {
    "$apr1$": "Apache MD5 ($apr1$)",
    "$1$": "MD5-crypt ($1$)",
    "$5$": "SHA-256-crypt ($5$)",
    "$6$": "SHA-512-crypt ($6$)",
    "$argon2": "Argon2",
}
# The change stamp of an htpasswd file that could not be read.
_UNREADABLE = (-1, -1, -1)
#: How much of a client's text (a user name, a path) goes into a log line.
LOG_CHARS = 64

# What a user table refused: (line, message naming the entry, user name or None).
Problems = list[tuple[int, str, str | None]]
# An htpasswd file's modification time (ns), size and inode.
Stamp = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Hash:
    """A stored password hash: ``kind`` is ``"bcrypt"`` or ``"sha"``."""

    kind: str
    value: bytes  # the bcrypt hash, or the SHA-1 digest
    text: str = field(repr=False)  # as configured (part of the cache key)


def parse_hash(text: object, where: str) -> Hash:
    """The :class:`Hash` of a configured hash; ``where`` names it in errors."""
    if not isinstance(text, str):
        raise TypeError(f"{where}: must be a password hash (str), not {kind_of(text)}")
    if text.startswith(_SHA_PREFIX):
        try:
            digest = base64.b64decode(text[len(_SHA_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != _SHA1_SIZE:
            raise ValueError(f"{where} is not a valid {{SHA}} hash (base64 of a SHA-1 digest)")
        return Hash("sha", digest, text)
    if _BCRYPT_RE.fullmatch(text) is not None:
        _bcrypt(where)
        return Hash("bcrypt", text.encode("ascii"), text)
    kind = next(
        (name for prefix, name in _NOT_SUPPORTED.items() if text.startswith(prefix)),
        "crypt" if re.fullmatch(r"[./0-9A-Za-z]{13}", text) else "not a known hash",
    )
    raise ValueError(
        f"{where}: unsupported password hash ({kind}); use bcrypt (htpasswd -B) "
        "or {SHA} (htpasswd -s)"
    )


def users_table(users: object) -> tuple[dict[str, str], dict[str, Hash]]:
    """A copy of the ``users`` option and its table; any bad entry is a
    ``ValueError`` (or ``TypeError``) naming it."""
    if not isinstance(users, Mapping):
        raise TypeError(f"users: must be a mapping of name to hash, not {kind_of(users)}")
    copy = dict(users)
    table, problems = _build_table(
        (index, f"users[{name!r}]", name, hashed)
        for index, (name, hashed) in enumerate(copy.items())
    )
    _refuse(problems)
    return copy, table


def htpasswd_table(path: object) -> tuple[str, Stamp, dict[str, Hash]]:
    """The ``htpasswd`` option as a str, the file's change stamp and its
    table; a bad line, or a file that cannot be read, is a ``ValueError``."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"htpasswd: must be a file path, not {kind_of(path)}")
    name = os.fsdecode(path)
    try:
        stamp, table, problems = read_htpasswd(name)
    except OSError as error:
        raise ValueError(f"htpasswd: cannot read {name!r} ({error.strerror or error})") from None
    _refuse(problems)
    return name, stamp, table


def read_htpasswd(path: str) -> tuple[Stamp, dict[str, Hash], Problems]:
    """Read an htpasswd file: its change stamp, its users and its bad lines.

    ``name:hash`` lines; blank lines and ``#`` comments are skipped, fields
    after a second colon ignored (as Apache does). A line that is not UTF-8 or
    not ``name:hash`` is a bad line, as is one :func:`_build_table` refuses.
    Raises ``OSError`` if the file cannot be read.
    """
    stamp = _file_stamp(path)
    with open(path, "rb") as file:
        data = file.read()
    entries: list[tuple[int, str, str, str]] = []
    problems: Problems = []
    for number, raw in enumerate(data.splitlines(), 1):
        label = f"htpasswd {path!r}, line {number}"
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            problems.append((number, f"{label}: not UTF-8 text", None))
            continue
        if not line or line.startswith("#"):
            continue
        name, colon, rest = line.partition(":")
        if not colon:
            problems.append((number, f"{label}: expected name:hash", None))
            continue
        entries.append((number, label, name, rest.partition(":")[0]))
    table, refused = _build_table(entries)
    problems.extend(refused)
    problems.sort(key=lambda problem: problem[0])
    return stamp, table, problems


class UserTable:
    """The users :class:`~wsgikit.auth.BasicAuth` checks passwords against.

    :param table: User name to :class:`Hash`.
    :param htpasswd: The file ``table`` was read from, reloaded when it
        changes; ``None`` for a fixed table.
    :param stamp: The change stamp of ``htpasswd`` when it was read.
    :param reload_interval: Seconds between checks of ``htpasswd`` for
        changes; ``None`` never reloads.
    :param cache_ttl: Seconds a successful bcrypt check is remembered.
    :param cache_size: How many successful bcrypt checks are remembered;
        0 (or a ``cache_ttl`` of 0) turns the cache off.

    The three numbers are checked here, with errors naming the option.
    """

    def __init__(
        self,
        table: dict[str, Hash],
        *,
        htpasswd: str | None = None,
        stamp: Stamp | None = None,
        reload_interval: float | None = None,
        cache_ttl: float = 0.0,
        cache_size: int = 0,
    ) -> None:
        self._table = table
        self._stand_in = stand_in(table)
        self.htpasswd = htpasswd
        self._stamp = stamp
        self.reload_interval = (
            None
            if reload_interval is None
            else check_seconds("reload_interval", reload_interval, none=True)
        )
        self.cache_ttl = check_seconds("cache_ttl", cache_ttl)
        self.cache_size = check_int("cache_size", cache_size)
        self._cache = (
            SuccessCache(self.cache_size, self.cache_ttl)
            if self.cache_ttl > 0 and self.cache_size > 0
            else None
        )
        self._next_check = (
            time.monotonic() + self.reload_interval
            if htpasswd is not None and self.reload_interval is not None
            else None
        )
        self._reload_lock = threading.Lock()

    def check(self, username: str, password: str) -> str | None:
        """``None`` when ``password`` is the user's, otherwise why not
        (:data:`UNKNOWN_USER` or :data:`WRONG_PASSWORD`)."""
        if self._next_check is not None and time.monotonic() >= self._next_check:
            self.reload()
        stored = self._table.get(username)
        secret = password.encode("utf-8")
        if stored is None:
            # Do the work most users cost (see stand_in), so timing hides who exists.
            verify_hash(self._stand_in, secret)
            return UNKNOWN_USER
        cache = self._cache if stored.kind == "bcrypt" else None
        key = b""
        if cache is not None:
            key = cache.key(username, stored.text, secret)
            if cache.hit(key):
                return None
        if not verify_hash(stored, secret):
            return WRONG_PASSWORD
        if cache is not None:
            cache.add(key)
        return None

    def reload(self) -> None:
        """Reload the htpasswd file if it changed (one thread at a time).

        Fails closed: a bad line refuses its user, an unreadable file everyone;
        the previous users never stay in force (that would undo revocations).
        """
        if not self._reload_lock.acquire(blocking=False):
            return  # another thread is checking right now
        try:
            self._next_check = time.monotonic() + (self.reload_interval or 0.0)
            path = self.htpasswd or ""
            try:
                if _file_stamp(path) == self._stamp:
                    return
                # The stamp is taken before reading: a write still under way
                # changes it again, and the next check reads the file again.
                stamp, table, problems = read_htpasswd(path)
            except OSError as error:
                if self._stamp != _UNREADABLE:  # reported once, not every check
                    self._stamp = _UNREADABLE
                    self._table, self._stand_in = {}, stand_in({})
                    logger.error(
                        "htpasswd %s unreadable (%s): every login is refused until it is back",
                        path,
                        error.strerror or error,
                    )
                return
            self._stamp = stamp  # a bad line is reported once, not every check
            for _, message, name in problems:
                if name is None:
                    logger.error("%s; line ignored", message)
                else:
                    logger.error("%s; user %s refused until it is fixed", message, quoted(name))
            self._table, self._stand_in = table, stand_in(table)
            logger.info(
                "htpasswd %s reloaded: %d user(s), %d bad line(s)", path, len(table), len(problems)
            )
        finally:
            self._reload_lock.release()


def stand_in(table: Mapping[str, Hash]) -> Hash:
    """The hash an unknown user is checked against: one of the most common
    kind and bcrypt cost in the table (the costliest of those tied), so that
    an unknown name takes as long as most known ones."""
    counts: dict[int, int] = {}
    examples: dict[int, Hash] = {}
    for stored in table.values():
        cost = int(stored.text[4:6]) if stored.kind == "bcrypt" else -1  # {SHA}: -1
        counts[cost] = counts.get(cost, 0) + 1
        examples.setdefault(cost, stored)
    cost = max(counts, key=lambda each: (counts[each], each), default=-1)
    if cost >= 0:
        return examples[cost]
    return Hash("sha", secrets.token_bytes(_SHA1_SIZE), "")


def verify_hash(stored: Hash, password: bytes) -> bool:
    """Whether ``password`` matches ``stored``, in constant time; a bcrypt
    hash reads the first 72 bytes of the password, like htpasswd."""
    if stored.kind == "sha":
        return hmac.compare_digest(hashlib.sha1(password).digest(), stored.value)
    bcrypt = _bcrypt("a user's hash")
    try:
        return bool(bcrypt.checkpw(password[:_BCRYPT_MAX_PASSWORD], stored.value))
    except ValueError:
        return False


class SuccessCache:
    """A bounded LRU of recent successful checks, keyed by an HMAC with a
    per-process random key: no password (nor its plain hash) is stored."""

    def __init__(self, size: int, ttl: float) -> None:
        self._size = size
        self._ttl = ttl
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, username: str, stored: str, password: bytes) -> bytes:
        # Neither the user name nor the stored hash contains NUL; the password is last.
        message = b"\0".join((username.encode("utf-8"), stored.encode("ascii"), password))
        return hmac.digest(self._key, message, "sha256")

    def hit(self, key: bytes) -> bool:
        now = time.monotonic()
        with self._lock:
            expires = self._entries.get(key)
            if expires is None:
                return False
            if expires <= now:
                del self._entries[key]
                return False
            self._entries.move_to_end(key)
            return True

    def add(self, key: bytes) -> None:
        with self._lock:
            self._entries[key] = time.monotonic() + self._ttl
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def keys(self) -> list[bytes]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._entries)


def quoted(text: str) -> str:
    """A user-supplied value for a log line: escaped (no line breaks), capped, quoted."""
    return f"'{log_safe(text, LOG_CHARS)}'"


def kind_of(value: object) -> str:
    """The type name of ``value``, for an error message."""
    return type(value).__name__


def _bcrypt(where: str) -> ModuleType:
    """The ``bcrypt`` module, or a ``ValueError`` naming ``where`` and the extra.

    Imported when needed, not at module load (the extra is optional); after the
    first time this is a ``sys.modules`` lookup, next to a check that costs
    tens of milliseconds.
    """
    try:
        return importlib.import_module("bcrypt")
    except ImportError:
        raise ValueError(
            f"{where} is a bcrypt hash, which needs the bcrypt package: {_BCRYPT_EXTRA}"
        ) from None


def _build_table(
    entries: Iterable[tuple[int, str, object, object]],
) -> tuple[dict[str, Hash], Problems]:
    """The users of ``(line, label, name, hash)`` entries, and the entries refused.

    Fails closed: a name with a bad or repeated entry is left out entirely,
    so that its other entry cannot grant access. A wrong type (only possible
    in a mapping given in Python) raises ``TypeError`` at once.
    """
    table: dict[str, Hash] = {}
    seen: set[str] = set()
    problems: Problems = []
    for line, label, name, hashed in entries:
        if not isinstance(name, str):
            raise TypeError(f"user names must be str, not {kind_of(name)}")
        if not name or ":" in name or CTL_RE.search(name) is not None:
            message = f"{label}: a user name is non-empty, without ':' or control characters"
            problems.append((line, message, None))  # no client can send such a name
            continue
        if name in seen:
            problems.append((line, f"{label}: user {name!r} is listed twice", name))
            table.pop(name, None)
            continue
        seen.add(name)
        try:
            table[name] = parse_hash(hashed, label)
        except ValueError as error:
            problems.append((line, str(error), name))
    return table, problems


def _refuse(problems: Problems) -> None:
    """At construction, any problem in the user table is a ``ValueError``."""
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ValueError(problems[0][1] + more)


def _file_stamp(path: str) -> Stamp:
    info = os.stat(path)
    return info.st_mtime_ns, info.st_size, info.st_ino
