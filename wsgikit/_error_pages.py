"""The description hidden in an error page, for :class:`~wsgikit.errors.JSONErrors`.

Flask, Pyramid and Bottle put the text given to ``abort()`` in the last
paragraph of their HTML (or plain text) error page. :func:`description_from_body`
finds it in a small 4xx page, reading the markup backwards without an HTML
parser, and refuses what says nothing: the status line or the path again, a
placeholder ("Unknown Error."), or a page that talks to the site's developer
about its configuration (Django's ``DEBUG = True`` hints, Pyramid's
``debug_notfound`` output). Nothing here raises on any body.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from http import HTTPStatus
from wsgiref.types import WSGIEnvironment

from werkzeug.http import parse_options_header

#: Only bodies up to this size are searched for a description (4xx only).
DESCRIPTION_SCAN_LIMIT = 4096
#: A description found in a body longer than this is not used.
DESCRIPTION_MAX_LENGTH = 300
#: The media types of HTML pages.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
#: Python's reason phrase of every 4xx and 5xx status (the RFC 7231 names
#: before Python 3.13).
_PHRASES = {int(status): status.phrase for status in HTTPStatus if 400 <= status <= 599}
#: The names RFC 9110 (section 15) gave these statuses.
_RFC9110_NAMES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}
#: The standard reason phrase (RFC 9110) of every 4xx and 5xx status.
TITLES = {**_PHRASES, **_RFC9110_NAMES}

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAGS = re.compile(r"(<[^>]*>)")
_TAG_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9]*)")
#: Elements whose text is not part of the message (titles repeat the status).
_INVISIBLE = frozenset(
    {"head", "title", "style", "script", "noscript", "template"}
    | {f"h{level}" for level in range(1, 7)}
)
#: Elements that end a paragraph.
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "pre",
        "br",
        "hr",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "table",
        "body",
        "html",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "nav",
        "blockquote",
        "address",
        "form",
        "fieldset",
    ]
)
_PARAGRAPH = re.compile(r"\n\s*\n")
#: Text that talks to the site's developer about its configuration, not to the
#: client about the request: a page holding it is a framework's debug or help
#: page (Django's "because you have DEBUG = True", "More information is
#: available with DEBUG=True", "customize this page using the
#: CSRF_FAILURE_VIEW setting"; Pyramid's debug_notfound/debug_authorization
#: output) and lends no description at all -- its other paragraphs are help
#: text or internals.
_BOILERPLATE = re.compile(
    r"\bDEBUG\s*=\s*True\b"
    r"|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\s+setting\b"
    r"|\bdebug_(?:notfound|authorization)\b"
)
#: Paragraphs that say nothing whatever the status (Bottle's ``abort()`` without
#: a text says "Unknown Error.").
_PLACEHOLDERS = frozenset({"error", "unknown error", "an error occurred"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_WORDS = re.compile(r"[\W_]+")
_STATUS_WORDS = {
    code: frozenset(
        form
        for title in {TITLES[code], _PHRASES.get(code, TITLES[code])}  # old names too
        for words in [" ".join(_WORDS.sub(" ", title.casefold()).split())]
        for form in (words, f"{code} {words}", f"error {code} {words}")
    )
    for code in TITLES
}


def one_line(text: str) -> str:
    """One line of printable text."""
    if not text.isprintable():
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def description_from_body(
    body: bytes,
    content_type: str,
    encoding: str,
    code: int,
    phrase: str,
    environ: WSGIEnvironment,
) -> str | None:
    """The last paragraph of a small text or HTML error page, when it says more
    than the status line; ``None`` otherwise. Never raises."""
    if (
        not body
        or len(body) > DESCRIPTION_SCAN_LIMIT
        or (encoding and encoding.strip().lower() != "identity")
    ):
        return None
    last = _last_paragraph(body, content_type)
    if not last or _says_nothing(last, code, phrase, environ):
        return None
    return last


@lru_cache(maxsize=64)
def parse_content_type(value: str) -> tuple[str, str]:
    """Media type (lower case) and charset of a ``Content-Type`` the app sent."""
    mime, options = parse_options_header(value)
    return mime.lower(), options.get("charset") or "utf-8"


@lru_cache(maxsize=256)
def _last_paragraph(body: bytes, content_type: str) -> str:
    """The last paragraph of a text or HTML page, cleaned, or ``""``.

    Cached: frameworks send the same few error pages again and again, and a
    hit costs ~0.3 us where parsing costs 4-9 us. Bounded: 256 entries, each
    a body of at most ``DESCRIPTION_SCAN_LIMIT`` bytes (the only caller checks)
    plus the app's ``Content-Type`` and a result of at most 300 characters,
    so about 1 MiB at worst. Pages that embed the URL (Bottle's) miss for
    every new URL and merely cycle the cache. The last 256 small 4xx pages
    stay in memory after their responses; they were sent to clients anyway."""
    mime, charset = parse_content_type(content_type)
    try:
        text = body.decode(charset, "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    if _BOILERPLATE.search(text):
        return ""
    if mime in HTML_TYPES or (not mime and text.lstrip()[:1] == "<"):
        last = _last_html_paragraph(text)
    elif mime in ("text/plain", ""):
        last = ""
        for block in reversed(_PARAGRAPH.split(text)):
            if block and not block.isspace():
                last = one_line(block)
                break
    else:
        return ""
    return last if len(last) <= DESCRIPTION_MAX_LENGTH else ""


def _last_html_paragraph(text: str) -> str:
    """The text of the last paragraph with text, reading the markup backwards
    (only the end of the page is looked at, and no HTML parser is needed)."""
    if "<!--" in text:
        text = _COMMENT.sub("", text)
    tokens = _TAGS.split(text)  # text, tag, text, tag, ..., text
    parts: list[str] = []
    has_text = False
    hidden = ""  # inside this invisible element (walking backwards)
    for index in range(len(tokens) - 1, -1, -1):
        token = tokens[index]
        if not index % 2:
            if not hidden and token:
                parts.append(token)
                has_text = has_text or not token.isspace()
            continue
        match = _TAG_NAME.match(token)
        if match is None:
            continue  # <!doctype>, <?xml?>, stray "<"
        closing, name = match.group(1), match.group(2).lower()
        if hidden:
            if name == hidden and not closing:
                hidden = ""
        elif name in _INVISIBLE:
            if closing:
                hidden = name
        elif name in _BLOCKS:
            if has_text:
                break
            parts.clear()
    if not has_text:
        return ""
    paragraph = "".join(reversed(parts))
    return one_line(html.unescape(paragraph) if "&" in paragraph else paragraph)


def _says_nothing(text: str, code: int, phrase: str, environ: WSGIEnvironment) -> bool:
    """True when ``text`` only repeats the status line or the request path,
    or is a placeholder such as "Unknown Error."."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    folded = text.casefold()
    standard = TITLES.get(code, "").casefold()
    old = _PHRASES.get(code, "").casefold()  # the RFC 7231 name some apps still send
    phrase = phrase.casefold()
    # Cheap rejection first (the common case): a longer text that mentions
    # none of them (placeholders are short).
    if len(text) > 20 and not (
        (standard and standard in folded)
        or (old and old in folded)
        or (phrase and phrase in folded)
        or str(code) in folded
        or (path and path.casefold() in folded)
    ):
        return False
    words = _words(text)
    if words == str(code) or words in _STATUS_WORDS.get(code, ()) or words in _PLACEHOLDERS:
        return True
    if phrase and phrase != standard:
        phrase = _words(phrase)
        if words in (phrase, f"{code} {phrase}", f"error {code} {phrase}"):
            return True
    return words == _words(path)


def _words(text: str) -> str:
    return " ".join(_WORDS.sub(" ", text.casefold()).split())
