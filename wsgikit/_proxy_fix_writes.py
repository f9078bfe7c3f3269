"""What :class:`~wsgikit.proxy.ProxyFix` writes into the environ once it
believes a forwarded value: each value checked before it is written (a client
address, scheme, host, port or path prefix), the value it replaces kept in the
``orig`` dict (``wsgikit.proxy.orig``), a believed RFC 7239 element applied,
and with ``clear_untrusted`` the forwarded headers cut down to what was
believed. The grammar of the headers themselves is :mod:`wsgikit._forwarded`.

The ``set_*`` functions take the request's ``environ``, its ``orig`` and the
forwarded value, and return whether they wrote it; a refused value is logged
on ``wsgikit.proxy`` at the ``level`` the caller chose (DEBUG, or WARNING
when a trusted proxy passed it on).
"""

from __future__ import annotations

import logging
from wsgiref.types import WSGIEnvironment

from ._forwarded import (
    ALL_HEADERS,
    FORWARDED,
    LOG_CHARS,
    MAX_HOST,
    MAX_NODE,
    SCHEMES,
    client_address,
    format_element,
    node_is_valid,
    reject,
    valid_host,
    valid_port,
    valid_prefix,
)
from ._http import log_safe

logger = logging.getLogger("wsgikit.proxy")


def store(environ: WSGIEnvironment, orig: dict[str, str | None], key: str, value: str) -> None:
    """Write a believed value, keeping the key's value before in ``orig``."""
    if key not in orig:
        orig[key] = environ.get(key)
    environ[key] = value


def set_client(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, level: int
) -> bool:
    address = client_address(value) if len(value) <= MAX_NODE else None
    if address is None:
        reject("X-Forwarded-For", value, level)
        return False
    store(environ, orig, "REMOTE_ADDR", address)
    return True


def set_scheme(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, what: str, level: int
) -> bool:
    scheme = SCHEMES.get(value.lower())
    if scheme is None:
        reject(what, value, level)
        return False
    store(environ, orig, "wsgi.url_scheme", scheme)
    return True


def set_host(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, what: str, level: int
) -> bool:
    parsed = valid_host(value) if len(value) <= MAX_HOST else None
    if parsed is None:
        reject(what, value, level)
        return False
    name, port = parsed
    # As werkzeug: SERVER_PORT only changes when the host names a port.
    if port is None:
        store(environ, orig, "HTTP_HOST", name)
    else:
        store(environ, orig, "HTTP_HOST", f"{name}:{port}")
        store(environ, orig, "SERVER_PORT", port)
    store(environ, orig, "SERVER_NAME", name)
    return True


def set_port(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, what: str, level: int
) -> bool:
    if not valid_port(value):
        reject(what, value, level)
        return False
    port = str(int(value))  # "00443" -> "443"
    host = environ.get("HTTP_HOST")
    if host:
        # The client's own Host is written only if it passes the check a
        # forwarded host must pass: "evil/x" must not become "evil/x:443".
        parsed = valid_host(host) if len(host) <= MAX_HOST else None
        if parsed is None:
            # DEBUG in both modes: the Host header comes from the client.
            logger.debug('not adding %s to invalid Host "%s"', what, log_safe(host, LOG_CHARS))
        else:
            store(environ, orig, "HTTP_HOST", f"{parsed[0]}:{port}")
    store(environ, orig, "SERVER_PORT", port)
    return True


def set_prefix(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, what: str, level: int
) -> bool:
    if value == "/":
        # Mounted at the root: PEP 3333 spells that as an empty SCRIPT_NAME.
        store(environ, orig, "SCRIPT_NAME", "")
        return True
    if not valid_prefix(value):
        reject(what, value, level)
        return False
    # "/app/" + PATH_INFO "/page" would make "/app//page" URLs.
    store(environ, orig, "SCRIPT_NAME", value[:-1] if value.endswith("/") else value)
    return True


def keep_forwarded(believed: dict[str, str], seen: dict[str, str], after: list[str]) -> None:
    """``clear_untrusted``: what ``Forwarded`` keeps. The believed element is
    rebuilt from its valid parameters only (dropped if it has none); the
    elements after it, added by the proxies that were trusted, stay as
    they came. Without any, the header is deleted (see :func:`keep_only`)."""
    parts = after
    if seen:
        parts = [format_element(seen), *after]
    if parts:
        believed[FORWARDED] = ", ".join(parts)


def keep_only(
    environ: WSGIEnvironment, orig: dict[str, str | None], believed: dict[str, str]
) -> None:
    """``clear_untrusted``: leave each forwarded header saying only what was
    believed (X-Forwarded-For trimmed to the believed chain, the others
    reduced to the believed value); delete the ones not believed."""
    for key in ALL_HEADERS:
        if key in environ:
            if key in believed:
                store(environ, orig, key, believed[key])
            else:
                orig.setdefault(key, environ[key])
                del environ[key]


def apply_element(
    environ: WSGIEnvironment,
    orig: dict[str, str | None],
    element: dict[str, str | None],
    level: int,
) -> dict[str, str]:
    """Copy a believed RFC 7239 element's ``for``/``proto``/``host``;
    returns its valid parameters (``for``, ``by``, ``proto``, ``host``)."""
    seen: dict[str, str] = {}
    if "for" in element:
        node = element["for"]
        if node is not None and node_is_valid(node):
            seen["for"] = node
            address = client_address(node)
            if address is not None:
                store(environ, orig, "REMOTE_ADDR", address)
            # else: "unknown" or obfuscated; the client stays unknown.
        else:
            reject("Forwarded for", node or "", level)
    by = element.get("by")
    if by is not None and node_is_valid(by):
        seen["by"] = by
    proto = element.get("proto")
    if proto is not None and set_scheme(environ, orig, proto, "Forwarded proto", level):
        seen["proto"] = proto.lower()
    host = element.get("host")
    if host is not None and set_host(environ, orig, host, "Forwarded host", level):
        seen["host"] = host
    return seen
