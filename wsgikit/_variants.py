"""The compressed variant of a response as HTTP sees it, for
:class:`~wsgikit.Compress`: its headers (the coding named, an ``ETag`` of its
own, the headers describing the uncoded bytes dropped) and the conditional
requests that name it (a variant's tags in ``If-None-Match``/``If-Match``
mapped to the identity tag before the application runs, and the ``ETag`` of
the application's ``304`` mapped back to the variant). The middleware itself
only negotiates and plans; the encoders are in :mod:`wsgikit._codecs`."""

from __future__ import annotations

import logging
from wsgiref.types import WSGIEnvironment

from werkzeug.http import parse_etags, quote_etag, unquote_etag

from ._http import STALE_AFTER_TRANSFORM, requote_etag, transformed_headers
from ._types import Headers

# Compress's logger: these are its log lines.
logger = logging.getLogger("wsgikit.compress")

# Headers a compressed variant loses: those describing the uncoded bytes (the
# digests cover the content coding, RFC 9530) and the length (the core's job).
_DROPPED = STALE_AFTER_TRANSFORM | {"content-length", "content-encoding"}


def variant_headers(headers: Headers, coding: str) -> Headers:
    """``headers`` for the compressed variant: coding set, variant ``ETag``,
    length, digests and ranges dropped (the core sets the new length)."""
    out = transformed_headers(headers, _DROPPED, logger, suffix=f"-{coding}")
    out.append(("Content-Encoding", coding))
    return out


def expand_condition(
    environ: WSGIEnvironment, key: str, suffixes: tuple[tuple[str, str], ...]
) -> frozenset[str]:
    """Add to ``environ[key]`` (``HTTP_IF_NONE_MATCH`` or ``HTTP_IF_MATCH``)
    the identity tag of every variant tag in it, a variant tag being one that
    ends in a ``(suffix, coding)`` of ``suffixes``; return the identity tags
    added. The original value is kept in ``environ["wsgikit.compress.orig"]``."""
    value = environ[key]
    if not isinstance(value, str) or "-" not in value:
        return frozenset()
    etags = parse_etags(value)
    added: list[str] = []
    bases: set[str] = set()
    # Sorted, for a stable header; werkzeug may yield None for an empty tag.
    for tag in sorted(tag for tag in etags.as_set(include_weak=True) if tag):
        for suffix, _name in suffixes:
            if tag.endswith(suffix) and len(tag) > len(suffix):
                base = tag[: -len(suffix)]
                try:
                    if etags.is_strong(tag):
                        added.append(quote_etag(base))
                    if etags.is_weak(tag):
                        added.append(quote_etag(base, weak=True))
                except ValueError:
                    continue
                bases.add(base)
    if not added:
        return frozenset()
    environ.setdefault("wsgikit.compress.orig", {})[key] = value
    environ[key] = f"{value}, {', '.join(added)}"
    return frozenset(bases)


def not_modified_headers(headers: Headers, coding: str, held: frozenset[str]) -> Headers:
    """The headers of a ``304`` with its ``ETag`` mapped back to the variant of
    ``coding`` when it is one of the identity tags ``held`` (those
    :func:`expand_condition` added for the request)."""
    out: Headers = []
    for name, value in headers:
        if name.lower() == "etag" and unquote_etag(value.strip())[0] in held:
            value = requote_etag(value, suffix=f"-{coding}") or value
        out.append((name, value))
    return out
