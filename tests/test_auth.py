"""Authorization: parse_authorization, AuthParser, BasicAuth and BearerAuth."""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
from e2e_auth_apps import ALICE_PASSWORD, BOB_PASSWORD, USERS, sha_hash, whoami
from helpers import (
    Tracked,
    basic,
    bcrypt_hash,
    call,
    exc_info_app,
    header_values,
    json_view_app,
    lazy_app,
    linted,
    raising_app,
    run_wsgi,
    testapp,
    text_app,
    tracked_app,
    write_app,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Authorization as WerkzeugAuthorization
from werkzeug.http import parse_dict_header

from wsgikit import JSONErrors
from wsgikit.auth import (
    AUTH_KEY,
    MAX_LENGTH,
    PRINCIPAL_KEY,
    Authorization,
    AuthParser,
    BasicAuth,
    BearerAuth,
    parse_authorization,
)

APR1 = "$apr1$abcdefgh$0123456789abcdefghijkl"  # htpasswd's default (MD5)
TOKEN_RE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"


class Spy:
    """An app that records whether it was called and the environ it saw."""

    def __init__(self) -> None:
        self.environ: WSGIEnvironment | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.environ = environ
        return text_app(b"inner")(environ, start_response)


# --- parse_authorization: known answers ------------------------------------------

RFC7616_DIGEST = (
    'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
    'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
    'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
    'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


def basic_row(value: str, username: str, password: str, case: str) -> Any:
    """A known answer: ``value`` reads as Basic credentials ``username``, ``password``."""
    expected = Authorization("basic", username=username, password=password)
    return pytest.param(value, expected, id=case)


def token_row(value: str, scheme: str, token: str, case: str) -> Any:
    """A known answer: ``value`` reads as scheme ``scheme`` carrying a token68 ``token``."""
    return pytest.param(value, Authorization(scheme, token=token), id=case)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        basic_row(
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame", "RFC 7617 Aladdin"
        ),
        basic_row("Basic dGVzdDoxMjPCow==", "test", "123£", "RFC 7617 UTF-8 test:123£"),
        basic_row("Basic dGVzdDoxMjOj", "test", "123£", "ISO-8859-1 fallback"),
        basic_row(
            "bAsIc   QWxhZGRpbjpvcGVuIHNlc2FtZQ==  ",
            "Aladdin",
            "open sesame",
            "scheme case and extra whitespace",
        ),
        basic_row(basic("user", ""), "user", "", "empty pw"),
        basic_row(basic("", "pw"), "", "pw", "empty user"),
        basic_row(basic("u", "a:b:c"), "u", "a:b:c", "colons in password"),
        token_row("Bearer mF_9.B5f-4.1JqM", "bearer", "mF_9.B5f-4.1JqM", "RFC 6750 bearer"),
        token_row("Bearer abc/def+ghi==", "bearer", "abc/def+ghi==", "bearer with trailing ="),
        pytest.param(
            RFC7616_DIGEST,
            Authorization(
                "digest",
                params={
                    "username": "Mufasa",
                    "realm": "http-auth@example.org",
                    "uri": "/dir/index.html",
                    "algorithm": "SHA-256",
                    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                    "nc": "00000001",
                    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                    "qop": "auth",
                    "response": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
                    "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
                },
            ),
            id="RFC 7616 digest",
        ),
        pytest.param(
            'Custom Realm="a, b", X=1, bare',
            Authorization("custom", params={"realm": "a, b", "x": "1"}),
            id="params lower-cased, bare item dropped",
        ),
        token_row(
            "Negotiate YIIB9wYGKwYBBQUCoIIB7TCCAemgDTAL==",
            "negotiate",
            "YIIB9wYGKwYBBQUCoIIB7TCCAemgDTAL==",
            "other scheme with token68",
        ),
        pytest.param(
            'Custom a="x=y", b=""',
            Authorization("custom", params={"a": "x=y", "b": ""}),
            id="quoted = and empty quoted value",
        ),
    ],
)
def test_parse_authorization_known_answers(value: str, expected: Authorization) -> None:
    assert parse_authorization(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="None"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", id="bytes"),
        pytest.param(42, id="int"),
        pytest.param("Basic", id="basic without credentials"),
        pytest.param("Basic !!!!", id="basic not base64"),
        pytest.param("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ", id="basic missing padding"),
        pytest.param("Basic QWxh ZGRp", id="basic with a space"),
        pytest.param("Basic " + base64.b64encode(b"nocolon").decode(), id="basic no colon"),
        pytest.param(basic("us\ner", "pw"), id="basic LF in user"),
        pytest.param(basic("user", "p\x00w"), id="basic NUL in password"),
        pytest.param(basic("user", "p\x7fw"), id="basic DEL in password"),
        pytest.param("Basic _-_-", id="basic url-safe alphabet"),
        pytest.param("Bearer", id="bearer without token"),
        pytest.param("Bearer a b", id="bearer with space"),
        pytest.param("Bearer tok,en", id="bearer with comma"),
        pytest.param("Bearer tökén", id="bearer non-ASCII"),
        pytest.param('Bearer realm="x"', id="bearer with params"),
        pytest.param("Bearer =abc", id="bearer leading ="),
        pytest.param("Digest foo bar", id="digest junk"),
        pytest.param('Digest a="unclosed', id="digest unclosed quote"),
        pytest.param("\x00Basic QWxh", id="NUL before scheme"),
        pytest.param("Bas(ic QWxh", id="scheme not a token"),
        pytest.param("Mutual", id="scheme alone"),
        pytest.param("garbage", id="garbage"),
        pytest.param("not-a-valid-header", id="one word with dashes"),
        pytest.param("!!!", id="punctuation"),
        pytest.param("!!! !!!", id="punctuation scheme and credentials"),
        pytest.param("Negotiate   ", id="scheme and blanks"),
        pytest.param("Digest a,b=", id="digest junk with trailing ="),
        pytest.param("Basic\tQWxhZGRpbjpvcGVuIHNlc2FtZQ==", id="tab is not SP (RFC 9110)"),
        pytest.param("\u212aerberos abc", id="Kelvin sign lowers to ASCII k"),
        pytest.param("Bearer " + "a" * MAX_LENGTH, id="over MAX_LENGTH"),
        pytest.param("Basic " + "QUFB" * 3000, id="huge basic"),
    ],
)
def test_parse_authorization_malformed_is_none(value: object) -> None:
    assert parse_authorization(value) is None


def test_parse_authorization_accepts_up_to_max_length() -> None:
    token = "a" * (MAX_LENGTH - len("Bearer "))
    parsed = parse_authorization("Bearer " + token)
    assert parsed is not None and parsed.token == token


def test_authorization_repr_hides_secrets_and_is_hashable() -> None:
    auth = parse_authorization(basic("alice", "hunter2"))
    bearer = parse_authorization("Bearer s3cr3t")
    assert auth is not None and bearer is not None
    assert "hunter2" not in repr(auth) and "alice" in repr(auth)
    assert "s3cr3t" not in repr(bearer)
    assert hash(auth) == hash(parse_authorization(basic("alice", "hunter2")))
    with pytest.raises(AttributeError):
        auth.username = "mallory"  # type: ignore[misc]


# --- parse_authorization: properties -------------------------------------------------


def _well_formed(auth: Authorization) -> None:
    assert auth.scheme == auth.scheme.lower() and auth.scheme
    assert isinstance(auth.params, dict)
    for name, value in auth.params.items():
        assert isinstance(name, str) and name == name.lower() and isinstance(value, str)
    if auth.scheme == "basic":
        assert isinstance(auth.username, str) and isinstance(auth.password, str)
        assert ":" not in auth.username
        assert auth.token is None and auth.params == {}
    else:
        assert auth.username is None and auth.password is None
    if auth.scheme == "bearer":
        assert isinstance(auth.token, str) and auth.token
    assert not (auth.token is not None and auth.params)
    if auth.scheme != "basic":
        assert auth.token is not None or auth.params  # a bare scheme is None


_SCHEMES = st.sampled_from(["Basic ", "basic  ", "Bearer ", "Digest ", "Foo ", "", " "])


@settings(max_examples=400)
@given(prefix=_SCHEMES, rest=st.text(max_size=200))
def test_parse_authorization_never_raises(prefix: str, rest: str) -> None:
    parsed = parse_authorization(prefix + rest)
    assert parsed is None or isinstance(parsed, Authorization)
    if parsed is not None:
        _well_formed(parsed)


@settings(max_examples=200)
@given(
    prefix=st.sampled_from(["Basic ", "Bearer ", "Negotiate "]),
    rest=st.text(alphabet=TOKEN_RE_CHARS + "= \t,\"'", max_size=120),
)
def test_parse_authorization_never_raises_near_valid(prefix: str, rest: str) -> None:
    parsed = parse_authorization(prefix + rest)
    if parsed is not None:
        _well_formed(parsed)


@settings(max_examples=150)
@given(word=st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=30))
def test_one_word_is_never_an_authorization(word: str) -> None:
    """A scheme alone, or any other single word, carries no credentials."""
    assert parse_authorization(word.replace(" ", "")) is None


_USER = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=":"),
    max_size=40,
)
_PASSWORD = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)


@settings(max_examples=200)
@given(username=_USER, password=_PASSWORD)
def test_basic_round_trips_utf8(username: str, password: str) -> None:
    assert parse_authorization(basic(username, password)) == Authorization(
        "basic", username=username, password=password
    )


@settings(max_examples=100)
@given(username=_USER, password=_PASSWORD)
def test_basic_fast_constructor_matches_the_dataclass(username: str, password: str) -> None:
    """Basic values are built by setting the slots directly (see _authorization.py):
    the same object as the frozen dataclass's own constructor makes."""
    built = Authorization("basic", username=username, password=password)
    parsed = parse_authorization(basic(username, password))
    again = parse_authorization(basic(username, password))
    assert parsed is not None and again is not None
    assert type(parsed) is Authorization
    assert [getattr(parsed, f.name) for f in dataclasses.fields(Authorization)] == [
        getattr(built, f.name) for f in dataclasses.fields(Authorization)
    ]
    assert parsed == built and hash(parsed) == hash(built) and repr(parsed) == repr(built)
    assert dataclasses.replace(parsed, username="x") == dataclasses.replace(built, username="x")
    assert parsed.params is not again.params  # a fresh dict each time, as default_factory
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.username = "mallory"  # type: ignore[misc]


_LATIN1_USER = st.text(
    alphabet=st.characters(max_codepoint=255, blacklist_categories=("Cc",)).filter(
        lambda c: c != ":"
    ),
    max_size=30,
)
_LATIN1_PASSWORD = st.text(
    alphabet=st.characters(max_codepoint=255, blacklist_categories=("Cc",)), max_size=30
)


@settings(max_examples=200)
@given(username=_LATIN1_USER, password=_LATIN1_PASSWORD)
def test_basic_round_trips_latin1_when_not_utf8(username: str, password: str) -> None:
    raw = f"{username}:{password}".encode("latin-1")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        expected = Authorization("basic", username=username, password=password)
    else:
        # Valid UTF-8 wins (RFC 7617); ASCII is identical in both.
        text = raw.decode("utf-8")
        user, _, pw = text.partition(":")
        expected = Authorization("basic", username=user, password=pw)
    assert parse_authorization(basic(username, password, "latin-1")) == expected


@settings(max_examples=150)
@given(
    token=st.text(alphabet=TOKEN_RE_CHARS, min_size=1, max_size=80),
    padding=st.integers(0, 3),
)
def test_bearer_token68_round_trips(token: str, padding: int) -> None:
    value = token + "=" * padding
    assert parse_authorization(f"Bearer {value}") == Authorization("bearer", token=value)


# --- AuthParser ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, None, id="no header"),
        pytest.param({"HTTP_AUTHORIZATION": "Basic !!"}, None, id="malformed"),
        pytest.param(
            {"HTTP_AUTHORIZATION": "Bearer abc"}, Authorization("bearer", token="abc"), id="bearer"
        ),
        pytest.param(
            {"HTTP_AUTHORIZATION": basic("u", "p")},
            Authorization("basic", username="u", password="p"),
            id="basic",
        ),
    ],
)
def test_auth_parser_stores_the_parsed_header(
    headers: dict[str, str], expected: Authorization | None
) -> None:
    spy = Spy()
    status, _, body = call(AuthParser(spy), **headers)
    assert status == "200 OK" and body == b"inner"
    assert spy.environ is not None and spy.environ[AUTH_KEY] == expected


# --- BasicAuth: requests ---------------------------------------------------------------

BCRYPT_VARIANTS = {
    "b": bcrypt_hash("pw-b"),
    "a": bcrypt_hash("pw-a").replace("$2b$", "$2a$", 1),
    "y": bcrypt_hash("pw-y").replace("$2b$", "$2y$", 1),
}


@pytest.mark.parametrize(
    ("users", "username", "password"),
    [
        pytest.param(USERS, "alice", ALICE_PASSWORD, id="{SHA}"),
        pytest.param(USERS, "bob", BOB_PASSWORD, id="bcrypt, non-ASCII password"),
        pytest.param(BCRYPT_VARIANTS, "b", "pw-b", id="$2b$"),
        pytest.param(BCRYPT_VARIANTS, "a", "pw-a", id="$2a$"),
        pytest.param(BCRYPT_VARIANTS, "y", "pw-y", id="$2y$"),
    ],
)
def test_valid_credentials_reach_the_app(
    users: dict[str, str], username: str, password: str
) -> None:
    app = testapp(whoami, partial(BasicAuth, users=users))
    response = app.get("/", headers={"Authorization": basic(username, password)})
    assert response.json == {
        "remote_user": username,
        "auth_type": "Basic",
        "principal": username,
        "path": "/",
    }


def test_latin1_client_matches_a_utf8_hash() -> None:
    """A password sent as ISO-8859-1 is checked as its UTF-8 text."""
    app = BasicAuth(whoami, users={"u": sha_hash("prix: 5£")})
    status, _, _ = call(app, HTTP_AUTHORIZATION=basic("u", "prix: 5£", "latin-1"))
    assert status == "200 OK"


def test_non_ascii_user_name_follows_pep3333() -> None:
    app = BasicAuth(whoami, users={"jürgen": sha_hash("pw")})
    _, _, body = call(app, HTTP_AUTHORIZATION=basic("jürgen", "pw"))
    data = json.loads(body)
    assert data["principal"] == "jürgen"
    assert data["remote_user"] == "jürgen".encode().decode("latin-1")


@pytest.mark.parametrize(
    ("authorization", "log_level", "log_text"),
    [
        pytest.param(None, logging.DEBUG, "no credentials", id="no header"),
        pytest.param("Bearer abc", logging.INFO, "non-Basic", id="other scheme"),
        pytest.param("Basic %%%", logging.INFO, "malformed", id="broken base64"),
        pytest.param(
            "Basic " + base64.b64encode(b"alice").decode(), logging.INFO, "malformed", id="no colon"
        ),
        pytest.param(basic("", "x"), logging.INFO, "empty user name", id="empty user"),
        pytest.param(basic("mallory", "guess"), logging.INFO, "unknown user", id="unknown user"),
        pytest.param(basic("alice", "guess"), logging.INFO, "wrong password", id="wrong {SHA}"),
        pytest.param(basic("bob", "guess"), logging.INFO, "wrong password", id="wrong bcrypt"),
        pytest.param(basic("alice", ""), logging.INFO, "wrong password", id="empty password"),
        pytest.param("Basic " + "QUFB" * 3000, logging.INFO, "malformed", id="huge"),
    ],
)
def test_bad_credentials_get_a_401_challenge(
    authorization: str | None, log_level: int, log_text: str, caplog: pytest.LogCaptureFixture
) -> None:
    spy = Spy()
    environ = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    with caplog.at_level(logging.DEBUG, logger="wsgikit.auth"):
        status, headers, body = call(BasicAuth(spy, users=USERS, realm="Staff"), **environ)
    assert status == "401 Unauthorized"
    assert header_values(headers, "WWW-Authenticate") == ['Basic realm="Staff", charset="UTF-8"']
    assert header_values(headers, "Content-Length") == [str(len(body))]
    assert body.startswith(b"401 Unauthorized") and len(body) < 100
    assert spy.environ is None
    records = [r for r in caplog.records if r.name == "wsgikit.auth"]
    assert [r.levelno for r in records] == [log_level]
    assert log_text in records[0].getMessage()
    assert "guess" not in caplog.text


def test_head_challenge_has_no_body() -> None:
    status, headers, body = call(BasicAuth(text_app(), users=USERS), REQUEST_METHOD="HEAD")
    assert status == "401 Unauthorized" and body == b""
    assert header_values(headers, "WWW-Authenticate")


@pytest.mark.parametrize(
    ("realm", "quoted"),
    [
        pytest.param('Say "hi"', r'"Say \"hi\""', id="quotes"),
        pytest.param("back\\slash", r'"back\\slash"', id="backslash"),
        pytest.param("a, b=c", '"a, b=c"', id="comma and equals"),
        pytest.param("plain", '"plain"', id="token"),
    ],
)
@pytest.mark.parametrize(
    ("layer", "expected_scheme", "other_params"),
    [
        pytest.param(partial(BasicAuth, users=USERS), "Basic", {"charset": "UTF-8"}, id="Basic"),
        pytest.param(partial(BearerAuth, verify=lambda token: None), "Bearer", {}, id="Bearer"),
    ],
)
def test_realm_is_quoted_and_escaped(
    realm: str,
    quoted: str,
    layer: Callable[..., WSGIApplication],
    expected_scheme: str,
    other_params: dict[str, str],
) -> None:
    _, headers, _ = call(layer(text_app(), realm=realm))
    (challenge,) = header_values(headers, "WWW-Authenticate")
    scheme, _, params = challenge.partition(" ")
    assert scheme == expected_scheme
    assert params.startswith(f"realm={quoted}")
    assert parse_dict_header(params) == {"realm": realm, **other_params}


@pytest.mark.parametrize(
    ("path", "exempt"),
    [
        pytest.param("/health", True, id="exact"),
        pytest.param("/health/", True, id="trailing slash"),
        pytest.param("/health/live", True, id="below"),
        pytest.param("/static/css/a.css", True, id="prefix given with slash"),
        pytest.param("/healthz", False, id="not a segment boundary"),
        pytest.param("/HEALTH", False, id="case matters"),
        pytest.param("/health/../admin", False, id="dot-dot segment"),
        pytest.param("/health/./x", False, id="dot segment"),
        pytest.param("/health\\..\\admin", False, id="backslash"),
        pytest.param("/", False, id="root"),
        pytest.param("/admin/health", False, id="not a prefix"),
        pytest.param("/café", True, id="non-ASCII exact"),
        pytest.param("/café/menu", True, id="non-ASCII below"),
        pytest.param("/cafe", False, id="ASCII look-alike"),
        pytest.param("/caféx", False, id="non-ASCII not a segment boundary"),
    ],
)
def test_exempt_paths_match_on_segments(path: str, exempt: bool) -> None:
    """Prefixes match whole segments of PATH_INFO, which holds the UTF-8 bytes
    as ISO-8859-1 characters (PEP 3333); an exempt request gets no user."""
    spy = Spy()
    app = BasicAuth(spy, users=USERS, exempt=["/health", "/static/", "/café"])
    assert app.exempt == ("/health", "/static", "/café")  # as given, not transcoded
    status, _, _ = call(app, PATH_INFO=path.encode("utf-8").decode("latin-1"))
    assert (status == "200 OK") is exempt
    assert (spy.environ is not None) is exempt
    if spy.environ is not None:
        assert "REMOTE_USER" not in spy.environ
    if not path.startswith("/caf"):
        return
    # The /caf... rows again over a URL: the server turns %-escapes into PATH_INFO.
    web = testapp(text_app(), partial(BasicAuth, users=USERS, exempt="/café"))
    url = "".join(c if c.isascii() else "".join(f"%{b:02X}" for b in c.encode()) for c in path)
    assert web.get(url, expect_errors=True).status_int == (200 if exempt else 401)


def test_exempt_uses_path_info_not_script_name() -> None:
    app = BasicAuth(text_app(), users=USERS, exempt="/health")
    assert call(app, SCRIPT_NAME="/mount", PATH_INFO="/health").status == "200 OK"
    assert call(app, SCRIPT_NAME="/health", PATH_INFO="/x").status.startswith("401")


@pytest.mark.parametrize(
    ("result", "status"),
    [
        pytest.param(True, "200 OK", id="True"),
        pytest.param(False, "401 Unauthorized", id="False"),
        pytest.param(None, "401 Unauthorized", id="None"),
        pytest.param(1, "401 Unauthorized", id="truthy int is not True"),
        pytest.param("yes", "401 Unauthorized", id="truthy str is not True"),
    ],
)
def test_verify_callable_must_return_true(result: object, status: str) -> None:
    seen: list[tuple[str, str]] = []

    def verify(username: str, password: str) -> Any:
        seen.append((username, password))
        return result

    got, _, _ = call(BasicAuth(whoami, verify=verify), HTTP_AUTHORIZATION=basic("u", "p£"))
    assert got == status
    assert seen == [("u", "p£")]


@pytest.mark.parametrize(
    ("results", "warned"),
    [
        pytest.param([1, "yes"], "int", id="truthy non-bool: warned once"),
        pytest.param([{"user": "u"}], "dict", id="a principal instead of True"),
        pytest.param([False, None, 0, ""], None, id="falsy: no warning"),
        pytest.param([True], None, id="True: no warning"),
    ],
)
def test_truthy_verify_result_is_refused_with_one_warning(
    caplog: pytest.LogCaptureFixture, results: list[object], warned: str | None
) -> None:
    pending = list(results) * 2

    def verify(username: str, password: str) -> Any:
        return pending.pop(0)

    app = BasicAuth(text_app(), verify=verify)
    with caplog.at_level(logging.INFO, logger="wsgikit.auth"):
        statuses = [
            call(app, HTTP_AUTHORIZATION=basic("u", "p")).status for _ in range(len(pending))
        ]
    assert statuses == ["200 OK" if r is True else "401 Unauthorized" for r in results * 2]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if warned is None:
        assert warnings == []
    else:
        assert warnings == [
            f"verify returned {warned}, not True: access refused (return True to grant it)"
        ]


def test_verify_callable_sets_remote_user() -> None:
    app = testapp(whoami, partial(BasicAuth, verify=lambda u, p: u == "carol" and p == "pw"))
    response = app.get("/", headers={"Authorization": basic("carol", "pw")})
    assert response.json["remote_user"] == "carol"
    app.get("/", headers={"Authorization": basic("carol", "nope")}, status=401)


def test_verify_exception_propagates() -> None:
    def verify(username: str, password: str) -> bool:
        raise ConnectionError("ldap down")

    with pytest.raises(ConnectionError, match="ldap down"):
        run_wsgi(BasicAuth(text_app(), verify=verify), {"HTTP_AUTHORIZATION": basic("u", "p")})


def test_json_errors_keeps_the_challenge() -> None:
    app = testapp(text_app(), JSONErrors, partial(BasicAuth, users=USERS, realm="api"))
    response = app.get("/", status=401)
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="api", charset="UTF-8"'


@settings(max_examples=150)
@given(value=st.text(alphabet=st.characters(max_codepoint=255), max_size=100))
def test_basic_auth_answers_any_header_with_401(value: str) -> None:
    calls, _, _ = run_wsgi(
        BasicAuth(text_app(), users={"alice": USERS["alice"]}),
        {"HTTP_AUTHORIZATION": "Basic " + value},
    )
    assert calls[-1][0] == "401 Unauthorized"


# --- BasicAuth: real frameworks -----------------------------------------------------------


def remote_user(request: Any) -> dict[str, Any]:
    """The user and scheme as the framework's own request object reads them."""
    if hasattr(request, "remote_user"):
        # Flask (werkzeug) and Pyramid (WebOb) parse Authorization themselves.
        auth = request.authorization
        scheme = auth.type if hasattr(auth, "type") else auth[0]
        return {"user": request.remote_user, "type": scheme}
    # Bottle: request.auth prefers REMOTE_USER, then parses the header.
    user = request.auth[0] if request.auth else None
    return {"user": user, "type": request.environ.get("AUTH_TYPE")}


@pytest.fixture(params=["flask", "pyramid", "bottle"])
def whoami_framework(request: pytest.FixtureRequest) -> WSGIApplication:
    """A real framework app whose ``/whoami`` returns the user it was given."""
    return json_view_app(request.param, "/whoami", remote_user)


def test_remote_user_reaches_real_frameworks(whoami_framework: WSGIApplication) -> None:
    app = testapp(whoami_framework, partial(BasicAuth, users=USERS))
    response = app.get("/whoami", headers={"Authorization": basic("bob", BOB_PASSWORD)})
    assert response.json["user"] == "bob"
    assert response.json["type"].lower() == "basic"
    app.get("/whoami", status=401)


def test_framework_responses_pass_through(framework_app: WSGIApplication) -> None:
    app = testapp(framework_app, partial(BasicAuth, users=USERS, exempt=["/missing"]))
    auth = {"Authorization": basic("alice", ALICE_PASSWORD)}
    assert app.get("/json", headers=auth).json == {"ok": True}
    app.get("/json", status=401)
    app.get("/missing", status=404)  # exempt: the framework's own 404


# --- BearerAuth ---------------------------------------------------------------------------

TOKENS: dict[str, Any] = {"good": "ci-bot", "claims": {"sub": "42", "scope": "read"}}


@pytest.mark.parametrize(
    ("authorization", "status", "challenge"),
    [
        pytest.param(None, "401 Unauthorized", 'Bearer realm="api"', id="no header"),
        pytest.param(basic("a", "b"), "401 Unauthorized", 'Bearer realm="api"', id="basic"),
        pytest.param("junk\x00", "401 Unauthorized", 'Bearer realm="api"', id="junk"),
        pytest.param(
            "Bearer", "400 Bad Request", 'Bearer realm="api", error="invalid_request"', id="empty"
        ),
        pytest.param(
            "Bearer a b",
            "400 Bad Request",
            'Bearer realm="api", error="invalid_request"',
            id="space in token",
        ),
        pytest.param(
            "bearer tökén",
            "400 Bad Request",
            'Bearer realm="api", error="invalid_request"',
            id="non-ASCII token",
        ),
        pytest.param(
            "Bearer " + "a" * MAX_LENGTH,
            "400 Bad Request",
            'Bearer realm="api", error="invalid_request"',
            id="too long",
        ),
        pytest.param(
            "Bearer bad",
            "401 Unauthorized",
            'Bearer realm="api", error="invalid_token"',
            id="unknown token",
        ),
        pytest.param(
            "Bearer false",
            "401 Unauthorized",
            'Bearer realm="api", error="invalid_token"',
            id="verify returned False",
        ),
    ],
)
def test_bearer_challenges(authorization: str | None, status: str, challenge: str) -> None:
    spy = Spy()
    environ = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    verify: Callable[[str], Any] = lambda token: False if token == "false" else TOKENS.get(token)  # noqa: E731
    got, headers, body = call(BearerAuth(spy, verify), **environ)
    assert got == status
    assert header_values(headers, "WWW-Authenticate") == [challenge]
    assert body.startswith(status[:3].encode())
    assert spy.environ is None


@pytest.mark.parametrize(
    ("token", "principal", "remote_user"),
    [
        pytest.param("good", "ci-bot", "ci-bot", id="str principal"),
        pytest.param("claims", {"sub": "42", "scope": "read"}, None, id="dict principal"),
    ],
)
def test_bearer_accepts_valid_tokens(token: str, principal: Any, remote_user: str | None) -> None:
    spy = Spy()
    status, _, _ = call(BearerAuth(spy, TOKENS.get), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert status == "200 OK" and spy.environ is not None
    assert spy.environ[PRINCIPAL_KEY] == principal
    assert spy.environ.get("REMOTE_USER") == remote_user
    assert spy.environ["AUTH_TYPE"] == "Bearer"


def test_bearer_verify_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    class Expired(Exception):
        pass

    def verify(token: str) -> str:
        if token == "expired":
            raise Expired("token expired")
        raise ConnectionError("key set unreachable")

    app = BearerAuth(text_app(), verify, invalid_token_errors=[Expired])
    with caplog.at_level(logging.INFO, logger="wsgikit.auth"):
        status, headers, _ = call(app, HTTP_AUTHORIZATION="Bearer expired")
    assert status == "401 Unauthorized"
    assert 'error="invalid_token"' in header_values(headers, "WWW-Authenticate")[0]
    assert "Expired" in caplog.text and "expired" not in caplog.text.replace("Expired", "")
    with pytest.raises(ConnectionError):
        run_wsgi(app, {"HTTP_AUTHORIZATION": "Bearer other"})


def test_bearer_realm_and_non_ascii_principal() -> None:
    spy = Spy()
    app = BearerAuth(spy, lambda token: "zoë", realm='my "api"')
    assert call(app, HTTP_AUTHORIZATION="Bearer t").status == "200 OK"
    assert spy.environ is not None and spy.environ["REMOTE_USER"] == "zoë".encode().decode(
        "latin-1"
    )
    _, headers, _ = call(app)
    assert header_values(headers, "WWW-Authenticate") == ['Bearer realm="my \\"api\\""']


def test_bearer_through_a_real_framework(framework_app: WSGIApplication) -> None:
    app = testapp(framework_app, partial(BearerAuth, verify=TOKENS.get))
    assert app.get("/json", headers={"Authorization": "Bearer good"}).json == {"ok": True}
    response = app.get("/json", headers={"Authorization": "Bearer nope"}, status=401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


# --- end to end ------------------------------------------------------------------------------


def test_basic_auth_through_a_real_server(serve: Callable[..., Any]) -> None:
    server = serve("e2e_auth_apps:app")
    denied = server.get("/")
    assert denied.status == 401
    assert denied.headers["WWW-Authenticate"] == 'Basic realm="e2e", charset="UTF-8"'
    wrong = server.get("/", {"Authorization": basic("bob", "nope")})
    assert wrong.status == 401
    response = server.get("/who", {"Authorization": basic("bob", BOB_PASSWORD)})
    assert response.status == 200
    assert json.loads(response.read()) == {
        "remote_user": "bob",
        "auth_type": "Basic",
        "principal": "bob",
        "path": "/who",
    }
    assert server.get("/health").status == 200
    assert server.get("/healthz").status == 401
    assert "Traceback" not in server.stop()


@settings(max_examples=200)
@given(
    path=st.text(alphabet="/health.zx\\", max_size=30).map(lambda p: "/" + p),
)
def test_exempt_only_on_segment_boundaries(path: str) -> None:
    calls, _, _ = run_wsgi(
        BasicAuth(text_app(), users=USERS, exempt="/health"), {"PATH_INFO": path}
    )
    exempt = calls[-1][0] == "200 OK"
    on_boundary = path == "/health" or path.startswith("/health/")
    ambiguous = "\\" in path or any(seg in (".", "..") for seg in path.split("/"))
    assert exempt == (on_boundary and not ambiguous)


@settings(max_examples=150)
@given(
    prefix=st.sampled_from(["Bearer ", "bearer\t", "Bearer", "Basic ", ""]),
    value=st.text(alphabet=st.characters(max_codepoint=255), max_size=60),
)
def test_bearer_answers_any_header_with_400_or_401(prefix: str, value: str) -> None:
    verified: list[str] = []

    def verify(token: str) -> None:
        verified.append(token)
        return None

    calls, _, _ = run_wsgi(BearerAuth(text_app(), verify), {"HTTP_AUTHORIZATION": prefix + value})
    status = calls[-1][0]
    assert status in ("400 Bad Request", "401 Unauthorized")
    parsed = parse_authorization(prefix + value)
    if parsed is not None and parsed.scheme == "bearer":
        assert verified == [parsed.token] and status == "401 Unauthorized"
    else:
        assert verified == []


# --- PEP 3333 paths -------------------------------------------------------------------------

_GATES: list[Any] = [
    pytest.param(partial(BasicAuth, users=USERS), {}, "401 Unauthorized", id="basic, none"),
    pytest.param(
        partial(BasicAuth, users=USERS),
        {"HTTP_AUTHORIZATION": basic("bob", "guess")},
        "401 Unauthorized",
        id="basic, wrong password",
    ),
    pytest.param(partial(BearerAuth, verify=TOKENS.get), {}, "401 Unauthorized", id="bearer, none"),
    pytest.param(
        partial(BearerAuth, verify=TOKENS.get),
        {"HTTP_AUTHORIZATION": "Bearer bad"},
        "401 Unauthorized",
        id="bearer, invalid_token",
    ),
    pytest.param(
        partial(BearerAuth, verify=TOKENS.get),
        {"HTTP_AUTHORIZATION": "Bearer a b"},
        "400 Bad Request",
        id="bearer, invalid_request",
    ),
]


@pytest.mark.parametrize(("layer", "environ", "status"), _GATES)
def test_own_answers_are_valid_for_get_and_head(
    layer: Callable[[WSGIApplication], WSGIApplication], environ: dict[str, str], status: str
) -> None:
    """Linted; HEAD gets no body but the Content-Length of the GET; native str headers."""
    spy = Spy()
    got, headers, body = call(layer(spy), **environ)
    head_got, head_headers, head_body = call(layer(spy), REQUEST_METHOD="HEAD", **environ)
    assert got == head_got == status and spy.environ is None
    assert body.startswith(status[:3].encode()) and head_body == b""
    assert header_values(headers, "Content-Length") == [str(len(body))]
    assert head_headers == headers
    assert all(type(k) is str and type(v) is str and v.isascii() for k, v in headers)
    assert header_values(headers, "Cache-Control") == ["no-store"]


_PASSING: list[Any] = [
    pytest.param(
        partial(BasicAuth, users=USERS),
        {"HTTP_AUTHORIZATION": basic("alice", ALICE_PASSWORD)},
        id="basic, valid",
    ),
    pytest.param(
        partial(BasicAuth, users=USERS, exempt="/health"), {"PATH_INFO": "/health"}, id="exempt"
    ),
    pytest.param(
        partial(BearerAuth, verify=TOKENS.get), {"HTTP_AUTHORIZATION": "Bearer good"}, id="bearer"
    ),
    pytest.param(AuthParser, {}, id="parser"),
]


@pytest.mark.parametrize(("layer", "environ"), _PASSING)
@pytest.mark.parametrize("fail_at", [None, 1], ids=["complete", "raises mid-body"])
def test_passed_through_body_is_closed_once(
    layer: Callable[[WSGIApplication], WSGIApplication],
    environ: dict[str, str],
    fail_at: int | None,
) -> None:
    tracked = Tracked([b"a", b"b"], fail_at=fail_at)
    app = layer(tracked_app(tracked, content_type="text/plain"))
    if fail_at is None:
        assert b"".join(run_wsgi(linted(app), environ)[1]) == b"ab"
    else:
        with pytest.raises(RuntimeError, match="boom at chunk 1"):
            run_wsgi(linted(app), environ)
    assert tracked.closes == 1


@pytest.mark.parametrize(("layer", "environ"), _PASSING)
@pytest.mark.parametrize(
    ("inner", "expected_status", "expected_body"),
    [
        pytest.param(lazy_app(), "200 OK", b"lazy body", id="lazy generator"),
        pytest.param(write_app(), "200 OK", b"written returned", id="write()"),
        pytest.param(
            exc_info_app(), "500 Internal Server Error", b"replacement error page", id="exc_info"
        ),
    ],
)
def test_passed_through_apps_work(
    layer: Callable[[WSGIApplication], WSGIApplication],
    environ: dict[str, str],
    inner: WSGIApplication,
    expected_status: str,
    expected_body: bytes,
) -> None:
    calls, chunks, _ = run_wsgi(linted(layer(inner)), environ)
    assert calls[-1][0] == expected_status and b"".join(chunks) == expected_body


@pytest.mark.parametrize(("layer", "environ"), _PASSING)
def test_app_raising_before_start_response_propagates(
    layer: Callable[[WSGIApplication], WSGIApplication], environ: dict[str, str]
) -> None:
    with pytest.raises(RuntimeError, match="secret internal detail"):
        run_wsgi(linted(layer(raising_app)), environ)


CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _stdlib_basic(token: str) -> tuple[str, str] | None:
    """RFC 7617 credentials as the standard library reads ``token``:
    ``b64decode(validate=True)``, UTF-8 when it decodes, ISO-8859-1 otherwise."""
    with contextlib.suppress(binascii.Error):
        raw = base64.b64decode(token, validate=True)
        with contextlib.suppress(UnicodeDecodeError):
            return _credentials(raw.decode("utf-8"))
        return _credentials(raw.decode("latin-1"))
    return None


def _credentials(text: str) -> tuple[str, str] | None:
    if ":" not in text or CONTROL.search(text):
        return None
    return (text.split(":", 1)[0], text.split(":", 1)[1])


@settings(max_examples=1000)
@given(
    user=st.text(max_size=8).filter(lambda user: ":" not in user),
    password=st.text(max_size=8),
    charset=st.sampled_from(["utf-8", "latin-1"]),
)
def test_basic_credentials_a_client_encodes_are_read_back(
    user: str, password: str, charset: str
) -> None:
    """RFC 7617 from the client's side: any user (no colon) and password, in
    UTF-8 or ISO-8859-1, reads back as sent; control characters are refused."""
    raw = f"{user}:{password}".encode(charset, errors="replace")
    assume(raw.decode(charset) == f"{user}:{password}")  # the charset can say it
    if charset != "utf-8":
        with contextlib.suppress(UnicodeDecodeError):
            assume(raw.decode("utf-8") == f"{user}:{password}")  # no other reading
    parsed = parse_authorization("Basic " + base64.b64encode(raw).decode())
    if CONTROL.search(f"{user}:{password}"):
        assert parsed is None
    else:
        assert parsed == Authorization("basic", username=user, password=password)


@settings(max_examples=3000)
@given(
    st.text(alphabet="Basic AQ+/=\té:-_\n", max_size=24)
    | st.binary(max_size=16).map(lambda raw: "Basic " + base64.b64encode(raw).decode())
    | st.tuples(st.text(max_size=6), st.text(max_size=6)).map(
        lambda pair: "Basic " + base64.b64encode(":".join(pair).encode()).decode()
    )
)
def test_basic_credentials_accepted_are_what_a_client_encoded(value: str) -> None:
    """What the fast path accepts from any header is what a client sends: the
    base64 of ``user:password`` without control characters, in UTF-8 (which
    werkzeug reads alike) or else ISO-8859-1; and whatever the standard
    library's strict base64 decoder reads as such credentials is accepted."""
    parsed = parse_authorization(value)
    if value.startswith("Basic ") and not any(c in value[6:] for c in " \t\n"):
        expected = _stdlib_basic(value[6:])
        got = None if parsed is None else (parsed.username, parsed.password)
        assert got == expected
    if parsed is None or parsed.scheme != "basic":
        return
    token = value.strip(" \t").partition(" ")[2].strip(" \t")
    text = f"{parsed.username}:{parsed.password}"
    assert CONTROL.search(text) is None
    if base64.b64encode(text.encode("utf-8")).decode() == token:
        theirs = WerkzeugAuthorization.from_header("Basic " + token)
        assert theirs is not None
        assert (theirs.username, theirs.password) == (parsed.username, parsed.password)
    else:
        raw = text.encode("latin-1")
        assert base64.b64encode(raw).decode() == token
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
