"""The fast cookie codec writes and accepts exactly what itsdangerous (and Flask) do."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from helpers import JSON_VALUES, session_data
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import (
    BadData,
    BadPayload,
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeTimedSerializer,
)

from wsgikit._signing import (
    CodecSettings,
    CookieCodec,
    ReferenceCodec,
    b64decode,
    b64encode,
    make_codec,
)
from wsgikit.sessions import TaggedJSON

NOW = 1_765_000_000


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class _JSON:
    dumps = staticmethod(_dumps)
    loads = staticmethod(json.loads)


class _Frozen(TimestampSigner):
    def get_timestamp(self) -> int:
        return NOW


def reference(keys: list[bytes], salt: str, digest: str, serializer: Any = _JSON) -> Any:
    """itsdangerous configured as SessionMiddleware and Flask configure it, clock frozen."""
    return URLSafeTimedSerializer(
        keys,
        salt=salt,
        serializer=serializer,
        signer=_Frozen,
        signer_kwargs={"key_derivation": "hmac", "digest_method": digest},
    )


def codec(keys: list[bytes], salt: str, digest: str, serializer: Any = _JSON) -> CookieCodec:
    return CookieCodec(
        CodecSettings(keys, salt.encode(), digest, serializer.dumps, serializer.loads)
    )


sessions = session_data()
key_sets = st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=3)
#: What one cookie is made from: the session, the keys (current first), the digest.
Signing = tuple[dict[str, Any], list[bytes], str]
signings = st.tuples(sessions, key_sets, st.sampled_from(["sha1", "sha256", "sha512", "blake2b"]))


@settings(max_examples=400)
@given(signings)
def test_same_bytes_as_itsdangerous_both_ways(signing: Signing) -> None:
    data, keys, digest = signing
    ours = codec(keys, "wsgikit.session", digest)
    theirs = reference(keys, "wsgikit.session", digest)
    value = ours.sign(data, now=NOW)
    assert value == theirs.dumps(data)
    assert ours.loads(value, max_age=60, now=NOW + 5) == theirs.loads(value, max_age=60) == data


@settings(max_examples=200)
@given(data=sessions, keys=key_sets, signer=st.integers(0, 2))
def test_every_key_verifies_what_any_key_signed(
    data: dict[str, Any], keys: list[bytes], signer: int
) -> None:
    """Key rotation: a cookie signed with an older key still loads, both ways."""
    old = keys[: min(signer, len(keys) - 1) + 1]
    value = reference(old, "s", "sha256").dumps(data)
    assert codec(keys, "s", "sha256").loads(value) == data
    assert codec(old, "s", "sha256").sign(data, now=NOW) == value


def test_the_zlib_form_is_used_exactly_when_itsdangerous_uses_it() -> None:
    big = {"cart": ["apple"] * 50}
    small = {"a": 1}
    for data, compressed in ((big, True), (small, False)):
        value = codec([b"k"], "s", "sha256").sign(data, now=NOW)
        assert value.startswith(".") is compressed
        assert value == reference([b"k"], "s", "sha256").dumps(data)


tagged = st.dictionaries(
    st.text(max_size=8),
    JSON_VALUES | st.tuples(st.integers(), st.text()) | st.binary(max_size=20) | st.uuids(),
    max_size=5,
)


@settings(max_examples=200)
@given(data=tagged)
def test_flask_mode_matches_flasks_own_session_serializer(data: dict[str, Any]) -> None:
    app = Flask(__name__)
    app.secret_key = "flask secret"
    flask_side = SecureCookieSessionInterface().get_signing_serializer(app)
    assert flask_side is not None
    ours = codec([b"flask secret"], "cookie-session", "sha1", TaggedJSON())
    value = ours.sign(data, now=int(time.time()))
    assert flask_side.loads(value) == data
    assert ours.loads(flask_side.dumps(data)) == data


def test_expiry_and_future_timestamps() -> None:
    ours = codec([b"k"], "s", "sha256")
    value = ours.sign({"a": 1}, now=NOW)
    assert ours.loads(value, max_age=10, now=NOW + 10) == {"a": 1}
    with pytest.raises(SignatureExpired):
        ours.loads(value, max_age=10, now=NOW + 11)
    with pytest.raises(SignatureExpired):
        ours.loads(value, max_age=10, now=NOW - 1)
    assert ours.loads(value, max_age=None, now=NOW + 10**6) == {"a": 1}
    assert ours.unsign_timed(value)[1] == NOW
    with pytest.raises(BadSignature):
        ours.unsign_timed(value + "x")


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"), id="last char"),
        pytest.param(lambda v: v.replace(".", "", 1), id="dot removed"),
        pytest.param(lambda v: v.rpartition(".")[0], id="no signature"),
        pytest.param(lambda v: "x" + v, id="payload changed"),
        pytest.param(lambda v: v + "é", id="not ascii"),
        pytest.param(lambda v: "", id="empty"),
        pytest.param(lambda v: "...", id="dots only"),
    ],
)
def test_tampered_values_are_refused(mangle: Any) -> None:
    value = codec([b"k"], "s", "sha256").sign({"user": "ann"}, now=NOW)
    with pytest.raises(BadData):
        codec([b"k"], "s", "sha256").loads(mangle(value))


def test_non_canonical_signature_is_refused_where_itsdangerous_accepts_it() -> None:
    """The signature's last base64 character carries unused bits: only the
    canonical one is accepted (itsdangerous accepts every variant)."""
    value = codec([b"k"], "s", "sha256").sign({"user": "ann"}, now=NOW)
    # SHA-256: 32 bytes = 42 characters plus 4 unused bits in the last one.
    head, last = value[:-1], value[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(last)
    variant = head + alphabet[index | 1 if not index & 1 else index & ~1]
    assert variant != value
    assert reference([b"k"], "s", "sha256").loads(variant) == {"user": "ann"}
    with pytest.raises(BadSignature):
        codec([b"k"], "s", "sha256").loads(variant)


def test_a_signed_payload_that_does_not_decode_is_a_bad_payload() -> None:
    signer = _Frozen([b"k"], salt="s", key_derivation="hmac", digest_method="sha256")
    value = signer.sign(b"!!!notbase64json").decode()
    with pytest.raises(BadPayload):
        codec([b"k"], "s", "sha256").loads(value)


@given(st.binary(max_size=64))
def test_base64_round_trip_and_canonical_only(data: bytes) -> None:
    text = b64encode(data)
    assert b64decode(text) == data
    assert b"=" not in text


@given(st.binary(max_size=80))
def test_b64decode_refuses_or_round_trips_anything(text: bytes) -> None:
    try:
        data = b64decode(text)
    except ValueError:
        return
    assert b64encode(data) == text


def test_no_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        CookieCodec(CodecSettings([], b"s", "sha256", _dumps, json.loads))


@settings(max_examples=200)
@given(signings)
def test_the_reference_codec_is_the_same_codec(signing: Signing) -> None:
    """The fallback (itsdangerous itself) behind the same methods gives the same answers."""
    data, keys, digest = signing
    fast = codec(keys, "s", digest)
    slow = ReferenceCodec(CodecSettings(keys, b"s", digest, _dumps, json.loads))
    value = fast.sign(data, now=NOW)
    assert slow.sign(data, now=NOW) == value
    assert slow.sign_payload(b"an-id", now=NOW) == fast.sign_payload(b"an-id", now=NOW)
    payload = fast.unsign(value)
    assert slow.unsign_timed(value, 60, now=NOW + 1) == fast.unsign_timed(value, 60, NOW + 1)
    assert slow.load_text(payload) == fast.load_text(payload) == _dumps(data)
    with pytest.raises(SignatureExpired):
        slow.unsign(value, 10, now=NOW + 11)


def test_make_codec_picks_the_fast_codec_when_it_matches() -> None:
    assert isinstance(
        make_codec(CodecSettings([b"k", b"j"], b"s", "sha256", _dumps, json.loads)), CookieCodec
    )


def test_make_codec_falls_back_when_one_key_signs_differently(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The probe signs with every key: a fast codec that differs from
    itsdangerous for the second key alone is not used."""
    real = CookieCodec.sign_payload
    signed: list[str] = []

    def second_differs(self: CookieCodec, payload: bytes, now: int | None = None) -> str:
        signed.append(real(self, payload, now))
        return signed[-1] + ("x" if len(signed) == 2 else "")

    monkeypatch.setattr(CookieCodec, "sign_payload", second_differs)
    with caplog.at_level("INFO", "wsgikit.sessions"):
        codec = make_codec(CodecSettings([b"k", b"j"], b"s", "sha256", _dumps, json.loads))
    assert len(signed) == 2  # one probe per key
    assert isinstance(codec, ReferenceCodec)
    assert "the fast codec differs for sha256" in caplog.text
