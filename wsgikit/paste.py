"""PasteDeploy filter factories: INI strings in, typed middleware options out.

Each factory is registered under the ``paste.filter_app_factory`` entry point
group, so an INI pipeline says ``use = egg:wsgikit#proxy_fix``. Option names
are the constructor's keyword names; values are converted by the converters
below, unknown options are rejected with a ``ValueError`` naming them, and a
secret may be written ``env:NAME`` to read it from the environment. One
application factory (``paste.app_factory``) sits at the end: ``http_proxy``.

This module holds converters and thin factories only: no middleware logic.

.. code-block:: ini

    [pipeline:main]
    pipeline = proxy json_errors myapp

    [filter:proxy]
    use = egg:wsgikit#proxy_fix
    trusted = 10.0.0.0/8 192.168.0.0/16
"""

from __future__ import annotations

import os
import pkgutil
import re
from collections.abc import Callable, Mapping
from typing import Any, cast
from wsgiref.types import WSGIApplication

from .auth import AuthParser, BasicAuth, BearerAuth
from .compress import Compress
from .errors import JSONErrors
from .http_proxy import HTTPProxy
from .proxy import FakeForwardedFor, ProxyFix
from .rewrite import BodyRewriter, InjectHTML
from .sessions import SessionMiddleware

Converter = Callable[[str], Any]

_TRUE = frozenset({"true", "yes", "on", "y", "t", "1", "enable", "enabled"})
_FALSE = frozenset({"false", "no", "off", "n", "f", "0", "disable", "disabled", "none", ""})
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)


# --- converters -----------------------------------------------------------------


def asbool(value: str | bool) -> bool:
    """``true/yes/on/y/t/1/enable(d)`` or ``false/no/off/n/f/0/disable(d)/none/""``."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r} (use true/false, yes/no, on/off, 1/0)")


def asint(value: str | int) -> int:
    """A whole number (``_`` separators allowed, as in Python)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"not a whole number: {value!r}") from None


def asfloat(value: str | float) -> float:
    """A decimal number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"not a number: {value!r}") from None


def aslist(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """Items separated by whitespace, commas or new lines; empty items dropped."""
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [item for item in re.split(r"[\s,]+", str(value)) if item]


def asduration(value: str | int | float) -> int:
    """Seconds: ``3600``, ``90s``, ``30m``, ``1h``, ``1h30m``, ``2d``, ``1w``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    position = 0
    total = 0.0
    for match in _DURATION.finditer(text):
        if text[position : match.start()].strip():
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
        position = match.end()
    if position == 0 or text[position:].strip():
        raise ValueError(f"not a duration: {value!r} (use seconds, or e.g. 90s, 30m, 1h30m, 2d)")
    return int(total)


def assecret(value: str) -> str:
    """A secret, or ``env:NAME`` to read it from the environment variable ``NAME``."""
    text = str(value)
    if text.startswith("env:"):
        name = text[4:].strip()
        if not name:
            raise ValueError("env: needs a variable name, as in env:SECRET_KEY")
        try:
            return os.environ[name]
        except KeyError:
            raise ValueError(f"environment variable {name} is not set") from None
    return text


def asimport(value: str | Any) -> Any:
    """A dotted name, ``package.module:attr`` (or ``package.module.attr``), imported."""
    if not isinstance(value, str):
        return value
    try:
        return pkgutil.resolve_name(value.strip())
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"cannot import {value!r} ({error})") from None


def ascallable(value: str | Callable[..., Any]) -> Callable[..., Any]:
    """Like :func:`asimport`, and the result must be callable."""
    target = asimport(value)
    if not callable(target):
        raise ValueError(f"{value!r} is not callable")
    return cast(Callable[..., Any], target)


def asints(value: str | list[str]) -> list[int]:
    """Whole numbers separated by whitespace or commas."""
    return [asint(item) for item in aslist(value)]


def asoptional(convert: Converter) -> Converter:
    """``convert``, but an empty value or ``none`` means ``None``."""

    def optional(value: str) -> Any:
        if value is None or str(value).strip().lower() in ("", "none"):
            return None
        return convert(value)

    optional.__doc__ = f"{convert.__doc__} Empty or ``none``: None."
    return optional


def convert_options(
    factory: str, local_conf: Mapping[str, Any], schema: Mapping[str, Converter]
) -> dict[str, Any]:
    """Convert ``local_conf`` by ``schema``; unknown or bad options raise ``ValueError``."""
    unknown = sorted(set(local_conf) - set(schema))
    if unknown:
        raise ValueError(
            f"[{factory}] unknown option(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(sorted(schema))}"
        )
    options: dict[str, Any] = {}
    for name, value in local_conf.items():
        try:
            options[name] = schema[name](value)
        except ValueError as error:
            raise ValueError(f"[{factory}] option {name}: {error}") from None
    return options


# --- factories (entry points in setup.py) -----------------------------------------
# Signature: factory(app, global_conf, **local_conf) -> app, as
# paste.filter_app_factory expects.

# proxy: wsgikit.proxy


def fake_forwarded_for(
    app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any
) -> WSGIApplication:
    """``egg:wsgikit#fake_forwarded_for``: :class:`wsgikit.proxy.FakeForwardedFor`.
    ``proxies`` is a list separated by spaces, commas or new lines; ``forwarded``
    is a boolean here (``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0``:
    send a ``Forwarded`` header or not), where ``proxy_fix`` takes a hop count."""
    options = convert_options(
        "fake_forwarded_for",
        local_conf,
        {
            "real_ip": str,
            "proxies": aslist,
            "override": asbool,
            "proto": asoptional(str),
            "host": asoptional(str),
            "port": asoptional(asint),
            "prefix": asoptional(str),
            "forwarded": asbool,
        },
    )
    return FakeForwardedFor(app, **options)


def proxy_fix(
    app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any
) -> WSGIApplication:
    """``egg:wsgikit#proxy_fix``: :class:`wsgikit.proxy.ProxyFix`; ``trusted`` is
    a list of addresses/CIDRs separated by spaces, commas or new lines. The hop
    counts (``x_for``, ``x_proto``, ``x_host``, ``x_port``, ``x_prefix``,
    ``forwarded``) are whole numbers, or ``true``/``yes``/``on`` for 1 and
    ``false``/``no``/``off`` for 0: ``forwarded = true`` reads the ``Forwarded``
    header from one proxy, as ``forwarded = true`` of ``fake_forwarded_for``
    sends it."""

    def ashops(value: str | int) -> int:
        words = {"true": 1, "yes": 1, "on": 1, "false": 0, "no": 0, "off": 0}
        hops = words.get(str(value).strip().lower())
        return asint(value) if hops is None else hops

    options = convert_options(
        "proxy_fix",
        local_conf,
        {
            "x_for": ashops,
            "x_proto": ashops,
            "x_host": ashops,
            "x_port": ashops,
            "x_prefix": ashops,
            "trusted": asoptional(aslist),
            "forwarded": ashops,
            "clear_untrusted": asbool,
        },
    )
    return ProxyFix(app, **options)


# body rewriting: wsgikit.rewrite


_REWRITE_COMMON: dict[str, Converter] = {
    "content_types": aslist,
    "buffer_limit": asoptional(asint),
    "statuses": asoptional(asints),
}


def rewrite(
    app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any
) -> WSGIApplication:
    """``use = egg:wsgikit#rewrite``: :class:`wsgikit.rewrite.BodyRewriter`.

    ``rewrite`` or ``stream`` is a dotted ``module:function``; ``content_types``
    a list, ``buffer_limit`` a whole number or ``none``, ``statuses`` whole numbers.
    """
    schema: dict[str, Converter] = {
        "rewrite": ascallable,
        "stream": ascallable,
        **_REWRITE_COMMON,
    }
    return BodyRewriter(app, **convert_options("rewrite", local_conf, schema))


def inject_html(
    app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any
) -> WSGIApplication:
    """``use = egg:wsgikit#inject_html``: :class:`wsgikit.rewrite.InjectHTML`.

    ``snippet`` (required), ``marker``, and the options of ``rewrite``:
    ``content_types``, ``buffer_limit``, ``statuses``.
    """
    schema: dict[str, Converter] = {"snippet": str, "marker": str, **_REWRITE_COMMON}
    return InjectHTML(app, **convert_options("inject_html", local_conf, schema))


# compression: wsgikit.compress
_COMPRESS_OPTIONS: dict[str, Converter] = {
    "min_size": asint,
    "level": asint,
    "encodings": aslist,
    "content_types": aslist,
    "buffer_limit": asint,
    "flush_size": asint,
    "flush_types": aslist,
    "brotli_quality": asint,
    "zstd_level": asint,
}


def compress(
    app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any
) -> WSGIApplication:
    """``use = egg:wsgikit#compress``: :class:`wsgikit.compress.Compress`.

    Options: ``min_size``, ``level``, ``buffer_limit``, ``flush_size``,
    ``brotli_quality``, ``zstd_level`` (whole numbers); ``encodings``,
    ``content_types``, ``flush_types`` (lists separated by spaces or commas).
    """
    return Compress(app, **convert_options("compress", local_conf, _COMPRESS_OPTIONS))


# JSON errors: wsgikit.errors
def _errors_asformat(value: str) -> Any:
    """``problem``, ``simple``, or a dotted ``module:function`` formatter."""
    text = str(value).strip()
    return text if text in ("problem", "simple") else ascallable(text)


def _errors_asexceptions(value: str) -> dict[Any, int]:
    """``module:Class=status`` items, e.g. ``builtins:TimeoutError=504``."""
    mapping: dict[Any, int] = {}
    for item in aslist(value):
        name, equals, status = item.rpartition("=")
        if not equals:
            raise ValueError(f"{item!r} is not module:Class=status")
        mapping[asimport(name)] = asint(status)
    return mapping


_JSON_ERRORS_OPTIONS: dict[str, Converter] = {
    "format": _errors_asformat,
    "debug": asbool,
    "negotiate": asbool,
    "exceptions": _errors_asexceptions,
    "request_id_header": asoptional(str),
    "content_type": asoptional(str),
}


def json_errors(app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any) -> Any:
    """``use = egg:wsgikit#json_errors``: :class:`wsgikit.errors.JSONErrors`.

    Options: ``format`` (``problem``, ``simple`` or a dotted ``module:function``),
    ``debug``, ``negotiate`` (booleans), ``exceptions`` (``module:Class=status``
    items), ``request_id_header`` (a header name, or ``none``), ``content_type``.
    """
    return JSONErrors(app, **convert_options("json_errors", local_conf, _JSON_ERRORS_OPTIONS))


# sessions: wsgikit.sessions
def _assecrets(value: str | list[str]) -> list[str]:
    """Secrets, one per line (a key may hold spaces and commas), each possibly ``env:NAME``."""
    if isinstance(value, list | tuple):
        return [assecret(item) for item in value]
    return [assecret(line.strip()) for line in str(value).splitlines() if line.strip()]


def _assamesite(value: str) -> str | None:
    """``Strict``, ``Lax`` or ``None`` (the SameSite value); empty: no attribute."""
    text = str(value).strip()
    return text or None


_SESSION_OPTIONS: dict[str, Converter] = {
    "secret_key": assecret,
    "fallback_keys": _assecrets,
    "cookie_name": str,
    "max_age": asoptional(asduration),
    "secure": asbool,
    "httponly": asbool,
    "samesite": _assamesite,
    "domain": asoptional(str),
    "path": str,
    "partitioned": asbool,
    "salt": asoptional(str),
    "digest": asoptional(str),
    "flask_compatible": asbool,
    "refresh_each_request": asbool,
    "serializer": asoptional(asimport),
}


def session(app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any) -> Any:
    """``use = egg:wsgikit#session``: :class:`wsgikit.sessions.SessionMiddleware`.

    Options: ``secret_key`` (required) accepts ``env:NAME``;
    ``fallback_keys`` holds **one key per line** (indented continuation
    lines), each may be ``env:NAME``; a line is one whole key, spaces and
    commas included. ``max_age`` is a duration (``3600``, ``1h``, ``14d``)
    or ``none`` for a browser-session cookie; ``secure``, ``httponly``,
    ``partitioned``, ``flask_compatible``, ``refresh_each_request`` are
    booleans. ``samesite`` is ``Strict``, ``Lax`` or ``None`` -- careful:
    ``samesite = none`` is the SameSite *value* ``None`` (needs ``secure``),
    and only an empty value sends no attribute -- while ``domain = none``,
    ``salt = none`` and ``digest = none`` mean unset (the defaults).
    ``cookie_name``, ``path`` are strings; ``serializer`` is a dotted
    ``module:object``.

    .. code-block:: ini

        fallback_keys =
            env:OLD_SECRET_KEY
            an older key, with spaces
    """
    return SessionMiddleware(app, **convert_options("session", local_conf, _SESSION_OPTIONS))


# authorization: wsgikit.auth


def _auth_asusers(value: str | Mapping[str, str]) -> dict[str, str]:
    """``name:hash`` items separated by spaces, commas or new lines."""
    if isinstance(value, Mapping):
        return dict(value)
    users: dict[str, str] = {}
    for item in aslist(value):
        name, colon, hashed = item.partition(":")
        if not colon:
            raise ValueError(f"{item[:20]!r}... is not name:hash")
        if name in users:
            raise ValueError(f"user {name!r} is listed twice")
        users[name] = hashed
    return users


def _auth_asexceptions(value: str) -> tuple[Any, ...]:
    """Dotted ``module:Class`` names of exception classes."""
    return tuple(asimport(item) for item in aslist(value))


def auth(app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any) -> Any:
    """``use = egg:wsgikit#auth``: :class:`wsgikit.auth.AuthParser` (no options)."""
    convert_options("auth", local_conf, {})
    return AuthParser(app)


_BASIC_AUTH_OPTIONS: dict[str, Converter] = {
    "users": _auth_asusers,
    "verify": ascallable,
    "htpasswd": str,
    "realm": str,
    "exempt": aslist,
    "reload_interval": asoptional(asfloat),
    "cache_ttl": asfloat,
    "cache_size": asint,
}


def basic_auth(app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any) -> Any:
    """``use = egg:wsgikit#basic_auth``: :class:`wsgikit.auth.BasicAuth`.

    One of ``users`` (``name:hash`` items; bcrypt or ``{SHA}`` hashes),
    ``htpasswd`` (a file path) or ``verify`` (a dotted ``module:function``);
    ``realm``; ``exempt`` (path prefixes); ``reload_interval`` (seconds, or
    ``none``), ``cache_ttl`` (seconds), ``cache_size``.
    """
    return BasicAuth(app, **convert_options("basic_auth", local_conf, _BASIC_AUTH_OPTIONS))


_BEARER_AUTH_OPTIONS: dict[str, Converter] = {
    "verify": ascallable,
    "realm": str,
    "invalid_token_errors": _auth_asexceptions,
}


def bearer_auth(app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any) -> Any:
    """``use = egg:wsgikit#bearer_auth``: :class:`wsgikit.auth.BearerAuth`.

    ``verify`` (required, a dotted ``module:function``), ``realm``,
    ``invalid_token_errors`` (dotted ``module:Class`` names).
    """
    return BearerAuth(app, **convert_options("bearer_auth", local_conf, _BEARER_AUTH_OPTIONS))


# the forwarding proxy: wsgikit.http_proxy (an application, not a filter)


def _asverify(value: str | bool) -> bool | str:
    try:
        return asbool(value)
    except ValueError:
        return str(value)


def http_proxy(global_conf: Mapping[str, Any], **local_conf: Any) -> WSGIApplication:
    """``use = egg:wsgikit#http_proxy``, an app factory: :class:`wsgikit.http_proxy.HTTPProxy`.

    ``upstream`` (required, a URL), ``timeout`` (seconds, a decimal number),
    ``pool_size`` (a whole number), ``preserve_host``, ``trust_env``,
    ``rewrite_location``, ``rewrite_cookies`` (booleans), ``verify`` (a boolean
    or the path of a CA bundle file).
    """
    schema: dict[str, Converter] = {
        "upstream": str,
        "timeout": asfloat,
        "pool_size": asint,
        "preserve_host": asbool,
        "trust_env": asbool,
        "rewrite_location": asbool,
        "rewrite_cookies": asbool,
        "verify": _asverify,
    }
    options = convert_options("http_proxy", local_conf, schema)
    if "upstream" not in options:
        raise ValueError("[http_proxy] option upstream is required (the URL to forward to)")
    return HTTPProxy(**options)
