"""Signed cookie values, byte for byte what itsdangerous writes, in fewer steps.

A session cookie is an itsdangerous ``URLSafeTimedSerializer`` value signed by a
``TimestampSigner`` with ``key_derivation="hmac"`` (Flask's session interface
uses exactly that, with salt ``cookie-session`` and SHA-1)::

    payload "." base64(timestamp) "." base64(HMAC(derived key, payload "." timestamp))

where ``payload`` is the base64url of the serialised data, or ``"."`` and the
base64url of its zlib form when that is at least two bytes shorter.

:class:`CookieCodec` writes the same bytes and accepts the same values as
itsdangerous (``tests/test_signing.py`` compares both ways), but does per key
once what itsdangerous does per call: the derived key and the HMAC's inner and
outer pads are computed at construction and copied for each message, and the
timestamp's text is computed once a second. It is also stricter in one way:
the signature and the timestamp must be in their canonical base64 form.
itsdangerous (like the ``base64`` module) ignores characters outside the
alphabet and the unused low bits of the last character, so several texts
verify as one signature; here only the one itsdangerous writes does. That
forges nothing either way, but a verifier should not accept what no signer
produces.

Errors are itsdangerous' own exception classes (``BadSignature``,
``BadTimeSignature``, ``SignatureExpired``, ``BadPayload``, all ``BadData``),
so callers handle both implementations alike.

:class:`ReferenceCodec` has the same methods on itsdangerous itself; it is the
fallback :func:`make_codec` picks when the fast codec cannot be built for a
digest, or does not reproduce itsdangerous' signature at construction.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, cast

from itsdangerous import (
    BadPayload,
    BadSignature,
    BadTimeSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_decode

logger = logging.getLogger("wsgikit.sessions")

# urlsafe base64 <-> standard base64, for binascii's C codec.
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


# b2a_base64's text ends with a newline: rstrip(b"=\n") drops it with the padding
# (cheaper than its newline=False, a keyword argument parsed on every call).
_b2a = binascii.b2a_base64
_a2b = binascii.a2b_base64
# The "=" that padless base64 of each length (mod 4) lacks; a length of 1
# (mod 4) is impossible, and "===" makes a2b_base64 say so.
_PADDING = (b"", b"===", b"==", b"=")


def b64encode(data: bytes) -> bytes:
    """URL-safe base64 without padding (itsdangerous' ``base64_encode``)."""
    return _b2a(data).translate(_TO_URLSAFE).rstrip(b"=\n")


def b64decode(text: bytes) -> bytes:
    """Decode padless URL-safe base64 that is in its canonical form.

    :raises ValueError: On a character outside the alphabet, an impossible
        length, or unused bits that are not zero (a text no encoder writes).
    """
    # a2b_base64 skips characters outside its alphabet and ignores unused
    # bits: only a text that encodes back to itself is canonical.
    try:
        data = _a2b(text.translate(_FROM_URLSAFE) + _PADDING[len(text) & 3])
    except binascii.Error:
        raise ValueError("not canonical base64url") from None
    if b64encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


class CodecSettings(NamedTuple):
    """What a codec signs with, and how it turns data into text and back."""

    #: Secret keys, the newest (the one that signs) last; every key verifies.
    keys: Sequence[bytes]
    #: The salt the keys are derived with.
    salt: bytes
    #: The hash's name for :mod:`hashlib`, e.g. ``"sha256"``.
    digest: str
    #: Turns the data into text (JSON, or Flask's tagged JSON).
    dumps: Callable[[Any], str]
    #: Turns that text back into the data.
    loads: Callable[[str], Any]


class CookieCodec:
    """Serialise, compress, sign, and the way back, as itsdangerous does."""

    def __init__(self, settings: CodecSettings) -> None:
        keys, salt, digest, self._dumps, self._loads = settings
        if not keys:
            raise ValueError("at least one key is needed")
        # Per key, the HMAC (RFC 2104) of its derived key with the inner and
        # outer pads already hashed; each message hashes copies of the two.
        # (Plain hashlib objects: the hmac module's wrapper costs Python calls.)
        self._pads = [
            _pads(hmac.new(key, salt, digest).digest(), digest)
            for key in reversed(keys)  # newest first: most cookies use it
        ]
        self._stamp: tuple[int, bytes] = (-1, b"")

    # --- writing ------------------------------------------------------------

    def sign(self, data: Any, now: int | None = None) -> str:
        """The signed cookie value for ``data``, timestamped ``now`` (default: the time).

        :raises TypeError, ValueError: When ``dumps`` cannot serialise ``data``.
        """
        text = self._dumps(data).encode("utf-8")
        # zlib is tried on every write, as itsdangerous does: its output
        # decides the cookie's bytes, so no shortcut may guess it.
        compressed = zlib.compress(text)
        if len(compressed) < len(text) - 1:
            payload = b"." + _b2a(compressed).translate(_TO_URLSAFE).rstrip(b"=\n")
        else:
            payload = _b2a(text).translate(_TO_URLSAFE).rstrip(b"=\n")
        return self.sign_payload(payload, now)

    def sign_payload(self, payload: bytes, now: int | None = None) -> str:
        """``payload`` (already encoded, e.g. a session ID) signed with a timestamp:
        what itsdangerous' ``TimestampSigner.sign`` returns."""
        if now is None:
            now = int(time.time())
        second, stamp = self._stamp
        if second != now:  # the timestamp's text changes once a second
            stamp = b64encode(now.to_bytes(8, "big").lstrip(b"\x00"))
            self._stamp = (now, stamp)
        message = payload + b"." + stamp
        inner, outer = self._pads[0]
        mac = inner.copy()
        mac.update(message)
        final = outer.copy()
        final.update(mac.digest())
        signature = _b2a(final.digest()).translate(_TO_URLSAFE).rstrip(b"=\n")
        return (message + b"." + signature).decode("ascii")

    # --- reading ------------------------------------------------------------

    def unsign(self, value: str, max_age: int | None = None, now: int | None = None) -> bytes:
        """Verify ``value`` and return its payload (still encoded).

        :raises BadSignature: The signature is missing, not canonical, or made
            with none of the keys.
        :raises BadTimeSignature: The timestamp is missing or malformed.
        :raises SignatureExpired: The value is older than ``max_age`` seconds,
            or from the future.
        """
        return self.unsign_timed(value, max_age, now)[0]

    def unsign_timed(
        self, value: str, max_age: int | None = None, now: int | None = None
    ) -> tuple[bytes, int]:
        """:meth:`unsign`, and when ``value`` was signed (Unix time)."""
        # One function on purpose: this runs on every request that reads a
        # session, and each Python call costs as much as a hash.
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            raise BadSignature("not ASCII") from None
        message, dot, signature = raw.rpartition(b".")
        if not dot:
            raise BadSignature("no signature")
        for inner, outer in self._pads:
            mac = inner.copy()
            mac.update(message)
            final = outer.copy()
            final.update(mac.digest())
            # Compared as text: only the canonical base64 of the MAC matches.
            expected = _b2a(final.digest()).translate(_TO_URLSAFE).rstrip(b"=\n")
            if hmac.compare_digest(expected, signature):
                break
        else:
            raise BadSignature("signature does not match")
        payload, dot, stamp = message.rpartition(b".")
        if not dot:
            raise BadTimeSignature("timestamp missing")
        # b64decode(), inlined: the canonical text of at most 8 bytes, no
        # leading zero byte (itsdangerous' int_to_bytes writes none).
        try:
            decoded = _a2b(stamp.translate(_FROM_URLSAFE) + _PADDING[len(stamp) & 3])
        except binascii.Error:
            decoded = b""
        if (
            not decoded
            or len(decoded) > 8
            or decoded[0] == 0
            or _b2a(decoded).translate(_TO_URLSAFE).rstrip(b"=\n") != stamp
        ):
            raise BadTimeSignature("malformed timestamp")
        timestamp = int.from_bytes(decoded, "big")
        if max_age is not None:
            age = (int(time.time()) if now is None else now) - timestamp
            if age > max_age or age < 0:
                raise SignatureExpired(f"signature age {age} not in 0..{max_age} seconds")
        return payload, timestamp

    def loads(self, value: str, max_age: int | None = None, now: int | None = None) -> Any:
        """Verify ``value`` and return its data.

        :raises BadPayload: The signature is good but the payload cannot be
            decoded (a key holder signed something else).
        """
        return self.load_payload(self.unsign(value, max_age, now))

    def load_payload(self, payload: bytes) -> Any:
        """Decode a verified payload: base64url, zlib when it starts with ``.``, text."""
        text = self.load_text(payload)
        try:
            return self._loads(text)
        except Exception as error:
            raise BadPayload("cannot decode the payload", original_error=error) from error

    def load_text(self, payload: bytes) -> str:
        """The serialised text of a verified payload (before ``loads``).

        :raises BadPayload: When it is not base64url, zlib or UTF-8.
        """
        # The payload is covered by the signature: what a key holder signed is
        # decoded exactly as itsdangerous decodes it (leniently).
        try:
            if payload[:1] == b".":
                text = payload[1:]
                raw = zlib.decompress(_a2b(text.translate(_FROM_URLSAFE) + _PADDING[len(text) & 3]))
            else:
                raw = _a2b(payload.translate(_FROM_URLSAFE) + _PADDING[len(payload) & 3])
            return raw.decode("utf-8")
        except Exception as error:
            raise BadPayload("cannot decode the payload", original_error=error) from error


_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


def _pads(key: bytes, digest: str) -> tuple[Any, Any]:
    """The hash objects of ``key`` XOR the inner and the outer pad (RFC 2104)."""
    inner = hashlib.new(digest)
    outer = hashlib.new(digest)
    block = inner.block_size
    if len(key) > block:
        key = hashlib.new(digest, key).digest()
    key = key.ljust(block, b"\0")
    inner.update(key.translate(_IPAD))
    outer.update(key.translate(_OPAD))
    return inner, outer


class Codec(Protocol):
    """What :class:`CookieCodec` and :class:`ReferenceCodec` both provide."""

    def sign(self, data: Any, now: int | None = None) -> str: ...
    def sign_payload(self, payload: bytes, now: int | None = None) -> str: ...
    def unsign(self, value: str, max_age: int | None = None, now: int | None = None) -> bytes: ...
    def unsign_timed(
        self, value: str, max_age: int | None = None, now: int | None = None
    ) -> tuple[bytes, int]: ...
    def load_text(self, payload: bytes) -> str: ...


class ReferenceCodec:
    """The :class:`CookieCodec` methods done by itsdangerous itself.

    The fallback for a configuration the fast codec cannot reproduce (see
    :func:`make_codec`). It accepts non-canonical base64, as itsdangerous does.
    """

    def __init__(self, settings: CodecSettings) -> None:
        self._serializer = URLSafeTimedSerializer(
            list(settings.keys),
            salt=settings.salt,
            serializer=_Functions(settings.dumps, settings.loads),
            signer=_Signer,
            signer_kwargs={"key_derivation": "hmac", "digest_method": settings.digest},
        )
        self._signer = cast(TimestampSigner, self._serializer.make_signer())

    def sign(self, data: Any, now: int | None = None) -> str:
        return self.sign_payload(self._serializer.dump_payload(data), now)

    def sign_payload(self, payload: bytes, now: int | None = None) -> str:
        return self._at(now).sign(payload).decode("ascii")

    def unsign(self, value: str, max_age: int | None = None, now: int | None = None) -> bytes:
        return self.unsign_timed(value, max_age, now)[0]

    def unsign_timed(
        self, value: str, max_age: int | None = None, now: int | None = None
    ) -> tuple[bytes, int]:
        """:raises ValueError, OverflowError, OSError: Too, for a validly
        signed timestamp no ``datetime`` can hold."""
        payload, signed_at = self._at(now).unsign(value, max_age=max_age, return_timestamp=True)
        return payload, int(signed_at.timestamp())

    def _at(self, now: int | None) -> TimestampSigner:
        """The signer, or one whose clock says ``now`` (tests, :func:`make_codec`)."""
        if now is None:
            return self._signer
        signer = self._signer
        return _Signer(
            signer.secret_keys,
            salt=signer.salt,
            key_derivation="hmac",
            digest_method=signer.digest_method,
            now=now,
        )

    def load_text(self, payload: bytes) -> str:
        try:
            compressed = payload.startswith(b".")
            raw = base64_decode(payload[1:] if compressed else payload)
            return (zlib.decompress(raw) if compressed else raw).decode("utf-8")
        except Exception as error:
            raise BadPayload("cannot decode the payload", original_error=error) from error


def make_codec(settings: CodecSettings) -> Codec:
    """A :class:`CookieCodec`, checked once against itsdangerous; else a
    :class:`ReferenceCodec` (logged at INFO).

    The check signs one known payload with every key and compares the bytes:
    should a platform's ``hmac`` refuse the digest or differ from what
    itsdangerous computes, the sessions keep working, at itsdangerous' speed.
    """
    reference = ReferenceCodec(settings)
    try:
        fast = CookieCodec(settings)
        probe = b"wsgikit.probe"  # with every key: each one's pads are checked
        same = all(
            CookieCodec(one).sign_payload(probe, now=_PROBE_TIME)
            == ReferenceCodec(one).sign_payload(probe, now=_PROBE_TIME)
            for one in (settings._replace(keys=[key]) for key in settings.keys)
        )
    except Exception as error:  # whatever this platform's hashlib does
        logger.info("signing with itsdangerous itself: %s", error)
        return reference
    if not same:
        logger.info(
            "signing with itsdangerous itself: the fast codec differs for %s", settings.digest
        )
        return reference
    return fast


_PROBE_TIME = 1_700_000_000


class _Signer(TimestampSigner):
    """itsdangerous' ``TimestampSigner``, its derived keys computed once
    instead of on every signature, optionally at a fixed time."""

    def __init__(self, *args: Any, now: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        derive = super().derive_key
        self._derived = {key: derive(key) for key in self.secret_keys}
        self._now = now

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        if secret_key is None:
            secret_key = self.secret_keys[-1]
        elif isinstance(secret_key, str):
            secret_key = secret_key.encode("utf-8")
        derived = self._derived.get(secret_key)
        return derived if derived is not None else super().derive_key(secret_key)

    def get_timestamp(self) -> int:
        return super().get_timestamp() if self._now is None else self._now


class _Functions:
    """A serializer object for itsdangerous, made of two functions."""

    def __init__(self, dumps: Callable[[Any], str], loads: Callable[[str], Any]) -> None:
        self.dumps = dumps
        self.loads = loads
