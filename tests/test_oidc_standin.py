"""The sign-in stand-in's own contract, over real HTTP on loopback: discovery and JWKS, the
authorization-code flow with PKCE as a client drives it (by hand and with Authlib), what it
refuses, and the forged tokens it hands tests."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from cadence.sandbox.oidc import CSP, Account, SignInStandIn

CLIENT_ID = "cadence-web"
SECRET = "s3cret:with%odd+chars"
CALLBACK = "http://127.0.0.1:8000/auth/callback"
HOSTILE = "<script>x</script>"
PEOPLE = (
    Account("ann@acme.test", "Ann Archer"),
    Account("bob@acme.test", 'Bob & "Bobby" O\'Brien'),
    Account("mallory@acme.test", HOSTILE, email_verified=False),
)


@pytest.fixture
def idp() -> Iterator[SignInStandIn]:
    with SignInStandIn(
        PEOPLE, client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[CALLBACK]
    ) as provider:
        yield provider


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        yield client


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, _b64(hashlib.sha256(verifier.encode()).digest())


def _params(challenge: str, **over: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "openid email profile",
        "state": "st&te=1 ü",
        "nonce": "n-0S6_WzA2Mj",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(over)
    return {k: v for k, v in params.items() if v != "-"}  # "-": leave the parameter out


def _location(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The redirect target without its query, and the query."""
    assert response.status_code == 302, response.text
    url = urlsplit(response.headers["location"])
    query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    return url._replace(query="").geturl(), query


def _code(idp: SignInStandIn, http: httpx.Client, challenge: str, **over: str) -> str:
    params = {**_params(challenge, **over), "email": "ann@acme.test"}
    target, query = _location(http.get(f"{idp.issuer}/authorize/choose", params=params))
    assert target == params["redirect_uri"]
    return query["code"]


def _redeem(
    idp: SignInStandIn,
    http: httpx.Client,
    code: str,
    verifier: str,
    *,
    secret: str = SECRET,
    **over: str,
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        **over,
    }
    return http.post(f"{idp.issuer}/token", data=form, auth=(CLIENT_ID, secret))


def _link(page: str, text: str) -> str:
    """The target of the picker link whose text holds ``text``, unescaped as a browser would."""
    links = re.findall(r'<a href="([^"]*)">(.*?)</a>', page)
    (href,) = [href for href, label in links if text in label]
    return html.unescape(href)


def _verify(idp: SignInStandIn, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(httpx.get(f"{idp.issuer}/jwks").json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def _json(part: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    head, body, signature = token.split(".")
    return _json(head), _json(body), signature


# -- discovery and keys ---------------------------------------------------------------------------


def test_discovery_names_the_endpoints_and_what_they_support(
    idp: SignInStandIn, http: httpx.Client
) -> None:
    r = http.get(f"{idp.issuer}/.well-known/openid-configuration")
    assert r.status_code == 200
    meta = r.json()
    assert idp.issuer == idp.url and not idp.issuer.endswith("/")
    assert meta["issuer"] == idp.issuer
    assert meta["authorization_endpoint"] == f"{idp.issuer}/authorize"
    assert meta["token_endpoint"] == f"{idp.issuer}/token"
    assert meta["jwks_uri"] == f"{idp.issuer}/jwks"
    assert meta["userinfo_endpoint"] == f"{idp.issuer}/userinfo"
    assert meta["response_types_supported"] == ["code"]
    assert meta["subject_types_supported"] == ["public"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"openid", "email", "profile"} <= set(meta["scopes_supported"])
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert meta["grant_types_supported"] == ["authorization_code"]


def test_jwks_is_one_public_rsa_signing_key(idp: SignInStandIn, http: httpx.Client) -> None:
    keys = http.get(f"{idp.issuer}/jwks").json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert {"kty", "n", "e", "kid", "alg", "use"} <= set(key)
    assert (key["kty"], key["alg"], key["use"], key["e"]) == ("RSA", "RS256", "sig", "AQAB")
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)  # nothing private
    assert len(base64.urlsafe_b64decode(key["n"] + "==")) == 256  # 2048 bits


# -- the code flow by hand ------------------------------------------------------------------------


def test_picker_lists_everyone_by_name_escaped_and_without_script(
    idp: SignInStandIn, http: httpx.Client
) -> None:
    _, challenge = _pkce()
    r = http.get(f"{idp.issuer}/authorize", params=_params(challenge))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == CSP
    page = r.text
    assert "choose who you are" in page
    assert HOSTILE not in page and "<script" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "Bob &amp; &quot;Bobby&quot; O&#x27;Brien" in page
    order = [page.index(name) for name in ("&lt;script", "Ann Archer", "Bob &amp;")]
    assert order == sorted(order)  # sorted by name: "<" sorts before letters
    assert page.count("/authorize/choose?") == 3
    assert "ann@acme.test" in page


def test_full_flow_gives_an_id_token_the_jwks_verifies(
    idp: SignInStandIn, http: httpx.Client
) -> None:
    verifier, challenge = _pkce()
    page = http.get(f"{idp.issuer}/authorize", params=_params(challenge)).text
    href = _link(page, "Ann Archer")
    assert href.startswith("/authorize/choose?")
    target, query = _location(http.get(idp.issuer + href))
    assert target == CALLBACK
    assert query["state"] == "st&te=1 ü"  # echoed exactly
    assert idp.codes_issued == 1

    r = _redeem(idp, http, query["code"], verifier)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "openid email profile"
    assert idp.tokens_issued == 1

    claims = _verify(idp, body["id_token"])
    now = time.time()
    assert claims["iss"] == idp.issuer
    assert claims["aud"] == CLIENT_ID
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["email"] == "ann@acme.test"
    assert claims["email_verified"] is True
    assert claims["name"] == "Ann Archer"
    assert now - 5 < claims["iat"] <= now + 1
    assert claims["exp"] == claims["iat"] + 300
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == _b64(digest[:16])
    assert claims["sub"] == _segments(idp.id_token(email="ann@acme.test"))[1]["sub"]

    info = http.get(
        f"{idp.issuer}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert info.status_code == 200
    assert info.json() == {
        "sub": claims["sub"],
        "email": "ann@acme.test",
        "email_verified": True,
        "name": "Ann Archer",
    }
    assert idp.by_kind["authorize"] == 1 and idp.by_kind["choose"] == 1
    assert idp.by_kind["token"] == 1 and idp.by_kind["userinfo"] == 1


def test_a_code_works_once_and_a_replay_revokes_its_tokens(
    idp: SignInStandIn, http: httpx.Client
) -> None:
    verifier, challenge = _pkce()
    code = _code(idp, http, challenge)
    first = _redeem(idp, http, code, verifier)
    assert first.status_code == 200
    again = _redeem(idp, http, code, verifier)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert http.get(f"{idp.issuer}/userinfo", headers=bearer).status_code == 401
    assert idp.tokens_issued == 1


@pytest.mark.parametrize(
    "verifier",
    ["wrong", "-", secrets.token_urlsafe(48)],
    ids=["malformed", "missing", "another"],
)
def test_the_pkce_verifier_must_match_the_challenge(
    idp: SignInStandIn, http: httpx.Client, verifier: str
) -> None:
    right, challenge = _pkce()
    code = _code(idp, http, challenge)
    form = {"code_verifier": verifier} if verifier != "-" else {}
    r = http.post(
        f"{idp.issuer}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **form},
        auth=(CLIENT_ID, SECRET),
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    # The failed attempt spent the code: the right verifier cannot use it now.
    assert _redeem(idp, http, code, right).status_code == 400


def test_redirect_uri_must_repeat_the_authorize_one(idp: SignInStandIn, http: httpx.Client) -> None:
    verifier, challenge = _pkce()
    code = _code(idp, http, challenge)
    r = _redeem(idp, http, code, verifier, redirect_uri="http://127.0.0.1:8000/other")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_a_wrong_client_secret_is_401(idp: SignInStandIn, http: httpx.Client) -> None:
    verifier, challenge = _pkce()
    code = _code(idp, http, challenge)
    r = _redeem(idp, http, code, verifier, secret="guess")
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    assert "www-authenticate" in r.headers
    assert idp.tokens_issued == 0


def test_the_secret_may_come_in_the_form(idp: SignInStandIn, http: httpx.Client) -> None:
    verifier, challenge = _pkce()
    code = _code(idp, http, challenge)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    assert http.post(f"{idp.issuer}/token", data=form).status_code == 200


def test_expired_codes_and_other_grants_are_refused(idp: SignInStandIn, http: httpx.Client) -> None:
    verifier, challenge = _pkce()
    idp.code_lifetime = -1
    code = _code(idp, http, challenge)
    r = _redeem(idp, http, code, verifier)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    r = _redeem(idp, http, "made-up", verifier, grant_type="password")
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type")


def test_an_unregistered_redirect_uri_gets_a_page_not_a_redirect(
    idp: SignInStandIn, http: httpx.Client
) -> None:
    _, challenge = _pkce()
    for path in ("/authorize", "/authorize/choose"):
        params = {**_params(challenge, redirect_uri="https://evil.test/cb"), "email": "a@b"}
        r = http.get(idp.issuer + path, params=params)
        assert r.status_code == 400
        assert "location" not in r.headers
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert "evil.test" not in r.text
    r = http.get(f"{idp.issuer}/authorize", params=_params(challenge, client_id="someone-else"))
    assert r.status_code == 400 and "location" not in r.headers
    assert idp.codes_issued == 0


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "email profile"}, "invalid_scope"),
        ({"code_challenge": "-"}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": "-"}, "invalid_request"),
    ],
)
def test_bad_requests_go_back_to_the_client_with_the_state(
    idp: SignInStandIn, http: httpx.Client, over: dict[str, str], error: str
) -> None:
    _, challenge = _pkce()
    r = http.get(f"{idp.issuer}/authorize", params=_params(challenge, **over))
    target, query = _location(r)
    assert target == CALLBACK
    assert query["error"] == error
    assert query["state"] == "st&te=1 ü"
    assert "code" not in query


def test_repeated_parameters_are_refused(idp: SignInStandIn, http: httpx.Client) -> None:
    _, challenge = _pkce()
    params = httpx.QueryParams(_params(challenge)).add("scope", "openid")
    _, query = _location(http.get(f"{idp.issuer}/authorize", params=params))
    assert query["error"] == "invalid_request"
    params = httpx.QueryParams(_params(challenge)).add("redirect_uri", "https://evil.test/")
    r = http.get(f"{idp.issuer}/authorize", params=params)
    assert r.status_code == 400 and "location" not in r.headers


def test_choose_refuses_an_unknown_email(idp: SignInStandIn, http: httpx.Client) -> None:
    _, challenge = _pkce()
    params = {**_params(challenge), "email": "eve@acme.test"}
    r = http.get(f"{idp.issuer}/authorize/choose", params=params)
    assert r.status_code == 400 and "location" not in r.headers
    assert idp.codes_issued == 0


def test_login_hint_skips_the_picker(idp: SignInStandIn, http: httpx.Client) -> None:
    verifier, challenge = _pkce()
    params = _params(challenge, login_hint="mallory@acme.test")
    target, query = _location(http.get(f"{idp.issuer}/authorize", params=params))
    assert target == CALLBACK
    claims = _verify(idp, _redeem(idp, http, query["code"], verifier).json()["id_token"])
    assert (claims["email"], claims["email_verified"]) == ("mallory@acme.test", False)
    # An unknown hint shows the picker instead.
    r = http.get(f"{idp.issuer}/authorize", params=_params(challenge, login_hint="x@y.test"))
    assert r.status_code == 200 and "choose who you are" in r.text


def test_loopback_redirects_are_open_when_none_is_registered(http: httpx.Client) -> None:
    _, challenge = _pkce()
    with SignInStandIn(PEOPLE, client_id=CLIENT_ID, client_secret=SECRET) as idp:
        good = "http://localhost:5123/cb?next=%2Fhome"
        params = {**_params(challenge, redirect_uri=good), "email": "ann@acme.test"}
        r = http.get(f"{idp.issuer}/authorize/choose", params=params)
        assert r.headers["location"].startswith(good + "&code=")
        for bad in (
            "https://127.0.0.1/cb",
            "http://127.0.0.1@evil.test/cb",
            "http://127.0.0.1\\@evil.test/cb",
            "http://localhost.evil.test/cb",
            "http://127.0.0.1:5000/cb#frag",
            "http://127.0.0.1:notaport/cb",
            "//127.0.0.1/cb",
        ):
            r = http.get(f"{idp.issuer}/authorize/choose", params={**params, "redirect_uri": bad})
            assert r.status_code == 400, bad
            assert "location" not in r.headers


# -- forged tokens --------------------------------------------------------------------------------


def test_id_token_defaults_and_overrides(idp: SignInStandIn) -> None:
    claims = _verify(idp, idp.id_token(email="bob@acme.test", nonce="abc"))
    assert claims["iss"] == idp.issuer and claims["aud"] == CLIENT_ID
    assert (claims["email"], claims["nonce"]) == ("bob@acme.test", "abc")
    assert claims["name"] == PEOPLE[1].name
    assert claims["exp"] - claims["iat"] == 300
    bent = _verify(
        idp, idp.id_token({"aud": "another-app", "extra": 1}, email="bob@acme.test", omit=["exp"])
    )
    assert (bent["aud"], bent["extra"]) == ("another-app", 1)
    assert "exp" not in bent and "nonce" not in bent
    # The same person keeps the same subject in every token.
    assert bent["sub"] == claims["sub"]


def test_a_token_signed_with_the_other_key_does_not_verify(idp: SignInStandIn) -> None:
    forged = idp.id_token(email="ann@acme.test", key="other")
    header, _, _ = _segments(forged)
    assert header["kid"] == idp.jwks()["keys"][0]["kid"]  # looks legitimate
    with pytest.raises(JoseError):
        _verify(idp, forged)


def test_alg_none_gives_an_unsigned_token(idp: SignInStandIn) -> None:
    token = idp.id_token(email="ann@acme.test", alg="none")
    header, claims, signature = _segments(token)
    assert header == {"alg": "none"}
    assert signature == "" and token.endswith(".")
    assert claims["email"] == "ann@acme.test"
    with pytest.raises(JoseError):
        _verify(idp, token)


def test_next_id_token_is_delivered_once(idp: SignInStandIn, http: httpx.Client) -> None:
    forged = idp.id_token(email="mallory@acme.test", key="other")
    idp.next_id_token(forged)
    verifier, challenge = _pkce()
    first = _redeem(idp, http, _code(idp, http, challenge), verifier).json()
    assert first["id_token"] == forged
    verifier, challenge = _pkce()
    second = _redeem(idp, http, _code(idp, http, challenge), verifier).json()
    assert second["id_token"] != forged
    assert _verify(idp, second["id_token"])["email"] == "ann@acme.test"


# -- Authlib as the client ------------------------------------------------------------------------


def test_authlib_oauth2_client_signs_in(idp: SignInStandIn, http: httpx.Client) -> None:
    meta = http.get(f"{idp.issuer}/.well-known/openid-configuration").json()
    verifier = generate_token(48)
    nonce = generate_token(20)
    with OAuth2Client(
        CLIENT_ID,
        SECRET,
        scope="openid email profile",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    ) as client:
        url, state = client.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        # The picker, then Bob's link, as the browser would follow them.
        href = _link(http.get(url).text, "Bob &amp;")
        location = http.get(idp.issuer + href).headers["location"]
        token = client.fetch_token(
            meta["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
    assert token["id_token"]
    # Validate as Authlib's OpenID clients (the Starlette one included) do.
    keys = KeySet.import_key_set(http.get(meta["jwks_uri"]).json())
    decoded = jwt.decode(
        token["id_token"],
        keys,
        registry=JWSRegistry(algorithms=["RS256"], strict_check_header=False),
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"values": [meta["issuer"]]}},
        {"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"]},
    )
    claims.validate(leeway=120)  # at_hash included
    assert claims["email"] == "bob@acme.test"
    assert state and parse_qs(urlsplit(location).query)["state"] == [state]
