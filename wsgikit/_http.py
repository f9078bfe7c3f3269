"""Small HTTP rules shared by several middlewares: what a request ID may look
like, and how client text is escaped before it goes into a log line.

Each rule lives here once, so that the middlewares applying it cannot drift
apart (a request ID that :class:`~wsgikit.request_id.RequestID` accepts is
exactly one :class:`~wsgikit.errors.JSONErrors` would echo).
"""

from __future__ import annotations

import re

#: A request ID taken from a client is trusted only when it matches this:
#: bounded, and no markup, quotes, spaces or control characters, so it is safe
#: in a header, a JSON body and a log line as it is.
REQUEST_ID = re.compile(r"[A-Za-z0-9._~:/+=@-]{1,128}")

# Apache's escaping of logged request data (``ap_escape_logitem``): a quote, a
# backslash, a control character or a byte outside printable ASCII becomes a
# backslash escape, so a value can neither end its field nor start a new line.
_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0D: "\\r"}
_QUOTED_TABLE = tuple(
    _ESCAPES.get(byte)
    or ("\\" + chr(byte) if byte in (0x22, 0x5C) else None)
    or (chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}")
    for byte in range(256)
)
# Outside quotes a space would split the field too.
_BARE_TABLE = tuple("\\x20" if byte == 0x20 else _QUOTED_TABLE[byte] for byte in range(256))
_QUOTED_SAFE = re.compile(r"[ !#-\[\]-~]*")
_BARE_SAFE = re.compile(r"[!#-\[\]-~]*")


def log_escape(value: str, *, quoted: bool = True) -> str:
    """Escape client text for one field of a log line, as Apache does.

    ``"`` and ``\\`` get a backslash; ``\\b \\t \\n \\v \\r`` are written so;
    other control characters and every byte outside printable ASCII become
    ``\\xhh``. A WSGI string (latin-1, one character per byte) is escaped byte
    by byte; any other text is escaped as its UTF-8 bytes. With
    ``quoted=False`` (a field outside quotes, such as the user name) a space
    becomes ``\\x20`` too. The result is printable ASCII and can be read back
    unambiguously, so a client cannot forge or split a line.
    """
    if (_QUOTED_SAFE if quoted else _BARE_SAFE).fullmatch(value):
        return value
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogatepass")
    table = _QUOTED_TABLE if quoted else _BARE_TABLE
    return "".join([table[byte] for byte in raw])


class HTTPStatusError(Exception):
    """An error of wsgikit's own that has an HTTP status for the client.

    Subclasses set ``code`` (a 4xx or 5xx status) and ``description`` (text
    safe to show). :class:`~wsgikit.JSONErrors` believes the status of these, as
    it does for the frameworks' own HTTP exceptions, and of no other exception
    unless told to.
    """

    code = 500
    description = "The server cannot answer this request."
