"""Token attacks over HTTP against a local stack (issue 8 group 1; EU DCC verifier rules: pinned
algorithms, signature before content, mandatory expiry).

* Caller tokens: every forgery class against an official-only route, answered exactly as API
  Gateway's JWT authorizer answers: ``401 {"message": "Unauthorized"}``. The stack's identity
  provider signs with a key this module chose (``LOCAL_CALLER_KEY_PEM``), so tokens with a
  *genuine* signature and a wrong issuer, audience or lifetime show that the authorizer checks
  more than the signature.
* Codes: every route that takes a signed code (``POST /v1/verifications`` ``code``, ``POST
  /v1/checkins`` ``venue_code``) against every forgery class, each with its exact status and error
  code (422 ``invalid_code`` / ``invalid_venue_code`` / ``code_expired``). The stack's code-signing
  keys are read from its Secrets Manager (as an attacker who stole them could), so claim checks
  are shown on tokens whose signature is genuine.

Every class has a positive control: the same harness, used honestly, is accepted.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from healthcode.codes.tokens import TYP_HEADER, KeySet, SigningKey, person_claim
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.version import Version

from infra.local.stack import LOCAL_AUDIENCE, LOCAL_ISSUER
from tests.security.http import forgery
from tests.security.http.forgery import KID_TRICKS, b64url, compact, es256, hs, hs256, rs256
from tests.security.http.world import VENUE_LOCATION, Person, SecurityStack, World, account, security_stack

ROOT = Path(__file__).resolve().parents[3]
UNAUTHORIZED = {"message": "Unauthorized"}
#: An official-only route without side effects: a forged token that got through would read it.
OFFICIAL_ROUTE = "/v1/overrides"
ATTACKER = forgery.new_ec_key()
ATTACKER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- stacks ---------------------------------------------------------------------------------------


@dataclass
class Guizhou:
    world: World
    caller_key: ec.EllipticCurvePrivateKey

    @functools.cached_property
    def caller_kid(self) -> str:
        header, _, _ = forgery.parts(self.world.token("kid-probe", ["citizen"]))
        return str(header["kid"])

    def caller_claims(self, **changes: Any) -> dict[str, Any]:
        """Claims the authorizer accepts (an official), with ``changes``; None removes a claim."""
        now = int(self.world.now().timestamp())
        claims = {
            "sub": "official-attacker",
            "roles": ["official"],
            "iss": LOCAL_ISSUER,
            "aud": LOCAL_AUDIENCE,
            "iat": now,
            "exp": now + 600,
            "token_use": "id",
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def caller_token(self, **changes: Any) -> str:
        """A caller token signed by the identity provider's genuine key."""
        header = {"alg": "ES256", "typ": "JWT", "kid": self.caller_kid}
        return compact(header, self.caller_claims(**changes), es256(self.caller_key))

    @functools.cached_property
    def signing_keys(self) -> KeySet:
        """The stack's code-signing keys, read from its Secrets Manager (they do not rotate here)."""
        secrets = self.world.stack.aws("secretsmanager")
        arn = next(s["ARN"] for s in secrets.list_secrets()["SecretList"] if "SigningKeys" in s["Name"])
        return KeySet.from_json(secrets.get_secret_value(SecretId=arn)["SecretString"])

    def signing_key(self, use: str) -> SigningKey:
        return next(k for k in self.signing_keys.keys if k.use == use)


@pytest.fixture(scope="module")
def guizhou(guizhou_stack: SecurityStack) -> Guizhou:
    """The stack whose routes are attacked (shared with the other HTTP suites, own accounts)."""
    return Guizhou(World(guizhou_stack.stack), guizhou_stack.caller_key)


@pytest.fixture(scope="module")
def fujian() -> Iterator[SecurityStack]:
    """A second province, not on Guizhou's trust list."""
    with security_stack("350000") as started:
        yield started


def _refused_as_api_gateway_does(answer: Any) -> None:
    assert answer.status_code == 401, answer.text[:300]
    assert answer.json() == UNAUTHORIZED


# -- the dependency pin ---------------------------------------------------------------------------


def _pyjwt_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    layer = [
        line.split("#", 1)[0].strip()
        for line in (ROOT / "shared" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    ]
    found = [Requirement(line) for line in [*project["dependencies"], *layer] if line]
    return [r for r in found if r.name.lower() == "pyjwt"]


def test_pyjwt_is_pinned_past_its_advisories() -> None:
    # GIVEN the project's and the layer's requirements
    pins = _pyjwt_requirements()
    # THEN both name PyJWT, neither admits a version before 2.12, and 2.12 itself is allowed
    assert len(pins) == 2
    for pin in pins:
        assert "crypto" in pin.extras
        assert not any(pin.specifier.contains(v) for v in ("2.10.1", "2.11.0", "2.11.99", "1.7.1"))
        assert pin.specifier.contains("2.12.0")
    # AND the installed PyJWT is one of them
    assert Version(importlib.metadata.version("pyjwt")) >= Version("2.12")


# -- caller tokens --------------------------------------------------------------------------------

CallerForgery = Callable[[Guizhou], str]


def _with_header(**header: Any) -> CallerForgery:
    """An official's claims, signed by the attacker with ``header`` (``kid`` genuine unless given)."""

    def forge(gz: Guizhou) -> str:
        sent = {"alg": "ES256", "typ": "JWT", "kid": gz.caller_kid, **header}
        return compact({k: v for k, v in sent.items() if v is not None}, gz.caller_claims(), es256(ATTACKER))

    return forge


def _unsigned(alg: str) -> CallerForgery:
    return lambda gz: compact({"alg": alg, "typ": "JWT", "kid": gz.caller_kid}, gz.caller_claims(), None)


def _hmac(secret: Callable[[Guizhou], bytes], alg: str = "HS256", kid: str | None = None) -> CallerForgery:
    def forge(gz: Guizhou) -> str:
        header = {"alg": alg, "typ": "JWT", "kid": kid if kid is not None else gz.caller_kid}
        return compact(header, gz.caller_claims(), hs(secret(gz), alg))

    return forge


def _caller_public_pem(gz: Guizhou) -> bytes:
    return forgery.public_pem(gz.caller_key.public_key())


def _tampered(**claims: Any) -> CallerForgery:
    """A genuine citizen token from the identity provider, its claims edited, signature kept."""
    return lambda gz: forgery.tampered(gz.world.stack.token(account("citizen"), ["citizen"]), **claims)


def _genuine(**changes: Any) -> CallerForgery:
    return lambda gz: gz.caller_token(**changes)


def _now(gz: Guizhou) -> int:
    return int(gz.world.now().timestamp())


CALLER_ATTACKS: dict[str, dict[str, CallerForgery]] = {
    "alg none": {alg: _unsigned(alg) for alg in ("none", "None", "NONE", "nOnE")}
    | {
        "none, genuine signature kept": lambda gz: (
            f"{forgery.segment({'alg': 'none', 'kid': gz.caller_kid})}.{gz.caller_token().split('.', 1)[1]}"
        )
    },
    "HS256 keyed with the issuer's public key": {
        "PEM": _hmac(_caller_public_pem),
        "PEM without newline": _hmac(lambda gz: _caller_public_pem(gz).strip()),
        "DER": _hmac(
            lambda gz: gz.caller_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ),
        "JWK JSON": _hmac(lambda gz: json.dumps(forgery.public_jwk(gz.caller_key.public_key())).encode()),
        "HS384 PEM": _hmac(_caller_public_pem, "HS384"),
        "HS512 PEM": _hmac(_caller_public_pem, "HS512"),
    },
    "HS256 with a guessed secret or another EC public key": {
        "empty": _hmac(lambda gz: b""),
        "secret": _hmac(lambda gz: b"secret"),
        "the audience": _hmac(lambda gz: LOCAL_AUDIENCE.encode()),
        "the issuer": _hmac(lambda gz: LOCAL_ISSUER.encode()),
        "the kid": _hmac(lambda gz: gz.caller_kid.encode()),
        "an EC public key PEM": _hmac(lambda gz: forgery.public_pem(ATTACKER.public_key())),
    },
    "another key with the right kid": {
        "ES256": _with_header(),
        "ES256 without kid": _with_header(kid=None),
        "ES256 unknown kid": _with_header(kid="local-00000000"),
        "RS256": lambda gz: compact(
            {"alg": "RS256", "typ": "JWT", "kid": gz.caller_kid}, gz.caller_claims(), rs256(ATTACKER_RSA)
        ),
        "ES384 label": _with_header(alg="ES384"),
        "EdDSA label": _with_header(alg="EdDSA"),
    },
    "header-supplied keys": {
        "jwk": _with_header(jwk=forgery.public_jwk(ATTACKER.public_key())),
        "jku": _with_header(jku="http://127.0.0.1:9/.well-known/jwks.json"),
        "x5u": _with_header(x5u="http://127.0.0.1:9/cert.pem"),
        "x5c": _with_header(x5c=[forgery.self_signed_certificate(ATTACKER)]),
        "jwk, no kid": _with_header(kid=None, jwk=forgery.public_jwk(ATTACKER.public_key())),
    },
    "kid tricks": {f"kid {trick[:24]!r}": _with_header(kid=trick) for trick in KID_TRICKS}
    | {"kid /dev/null, HS256 empty key": _hmac(lambda gz: b"", kid="/dev/null")},
    "tampered payload": {
        "roles escalated": _tampered(roles=["official"]),
        "roles escalated to every role": _tampered(roles=["citizen", "official", "admin"]),
        "cognito:groups added": _tampered(**{"cognito:groups": ["official"]}),
        "sub changed": _tampered(sub="official-1", roles=["official"]),
        "signature stripped": lambda gz: gz.caller_token().rsplit(".", 1)[0] + ".",
        "signature bit flipped": lambda gz: _flip_signature(gz.caller_token()),
    },
    "wrong issuer": {
        "another issuer": _genuine(iss="https://evil.invalid/issuer"),
        "issuer with a trailing slash": _genuine(iss=LOCAL_ISSUER + "/"),
        "no issuer": _genuine(iss=None),
    },
    "wrong audience": {
        "another audience": _genuine(aud="another-app"),
        "audience list without ours": _genuine(aud=["another-app", "third-app"]),
        "no audience": _genuine(aud=None),
    },
    "expired": {
        "a second ago": lambda gz: gz.caller_token(iat=_now(gz) - 3600, exp=_now(gz) - 1),
        "exactly now": lambda gz: gz.caller_token(iat=_now(gz) - 3600, exp=_now(gz)),
        "a year ago": lambda gz: gz.caller_token(iat=_now(gz) - 400 * 86400, exp=_now(gz) - 365 * 86400),
    },
    "future iat or nbf": {
        "iat in an hour": lambda gz: gz.caller_token(iat=_now(gz) + 3600, exp=_now(gz) + 7200),
        "nbf in an hour": lambda gz: gz.caller_token(nbf=_now(gz) + 3600),
    },
    "missing or malformed exp/iat/sub": {
        "no exp": _genuine(exp=None),
        "no iat": _genuine(iat=None),
        "no sub": _genuine(sub=None),
        "exp as text": lambda gz: gz.caller_token(exp=str(_now(gz) + 600)),
        "sub as a number": _genuine(sub=12345),
    },
}


def _flip_signature(token: str) -> str:
    head, signature = token.rsplit(".", 1)
    raw = bytearray(forgery.b64url_decode(signature))
    raw[5] ^= 0x01
    return f"{head}.{b64url(bytes(raw))}"


MALFORMED_AUTHORIZATION: dict[str, Callable[[Guizhou], dict[str, str]]] = {
    "no header": lambda gz: {},
    "Bearer alone": lambda gz: {"Authorization": "Bearer"},
    "Bearer and a space": lambda gz: {"Authorization": "Bearer "},
    "Basic scheme": lambda gz: {"Authorization": "Basic b2ZmaWNpYWw6cGFzc3dvcmQ="},
    "token without scheme": lambda gz: {"Authorization": gz.caller_token()},
    "two segments": lambda gz: {"Authorization": "Bearer " + gz.caller_token().rsplit(".", 1)[0]},
    "four segments": lambda gz: {"Authorization": f"Bearer {gz.caller_token()}.e30"},
    "not base64": lambda gz: {"Authorization": "Bearer !!!.@@@.###"},
    "header not an object": lambda gz: {"Authorization": f"Bearer {b64url(b'[1]')}.{b64url(b'{}')}.AA"},
    "token in another header": lambda gz: {"X-Authorization": f"Bearer {gz.caller_token()}"},
}

CALLER_CASES = [
    pytest.param(forge, id=f"{family}: {name}")
    for family, variants in CALLER_ATTACKS.items()
    for name, forge in variants.items()
]


def test_the_forging_harness_is_accepted_when_used_honestly(guizhou: Guizhou) -> None:
    # GIVEN an official's token made by this module with the identity provider's genuine key
    token = guizhou.caller_token()
    # WHEN it calls the official route THEN it is served: the refusals below are not harness bugs
    answer = guizhou.world.call("GET", OFFICIAL_ROUTE, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    # AND a nbf in the past and an aud list holding ours are fine too
    for changes in ({"nbf": _now(guizhou) - 60}, {"aud": ["another-app", LOCAL_AUDIENCE]}):
        honest = guizhou.caller_token(**changes)
        ok = guizhou.world.call("GET", OFFICIAL_ROUTE, headers={"Authorization": f"Bearer {honest}"})
        assert ok.status_code == 200, (changes, ok.text)


@pytest.mark.parametrize("forge", CALLER_CASES)
def test_a_forged_caller_token_is_refused_like_api_gateway(guizhou: Guizhou, forge: CallerForgery) -> None:
    # GIVEN a forged or tampered caller token claiming the official role
    token = forge(guizhou)
    # WHEN it calls an official-only route THEN the authorizer answers 401 before any function runs
    answer = guizhou.world.call("GET", OFFICIAL_ROUTE, headers={"Authorization": f"Bearer {token}"})
    _refused_as_api_gateway_does(answer)


@pytest.mark.parametrize("name", sorted(MALFORMED_AUTHORIZATION))
def test_a_malformed_authorization_header_is_refused(guizhou: Guizhou, name: str) -> None:
    answer = guizhou.world.call("GET", OFFICIAL_ROUTE, headers=MALFORMED_AUTHORIZATION[name](guizhou))
    _refused_as_api_gateway_does(answer)


def test_a_token_from_the_providers_own_route_cannot_choose_its_issuer_or_lifetime(guizhou: Guizhou) -> None:
    # GIVEN the dev identity provider asked for extra claims that would widen the token
    stack = guizhou.world.stack
    answer = stack.http.post(
        f"{stack.url}/_local/tokens",
        json={
            "sub": "citizen-x",
            "roles": ["citizen"],
            "claims": {"iss": "https://evil.invalid", "aud": "x", "exp": 4102444800, "roles": ["official"]},
        },
        timeout=10,
    )
    _, claims, _ = forgery.parts(answer.json()["token"])
    # THEN its own issuer, audience, roles and one-hour lifetime win
    assert (claims["iss"], claims["aud"], claims["roles"]) == (LOCAL_ISSUER, LOCAL_AUDIENCE, ["citizen"])
    assert claims["exp"] - claims["iat"] == 3600


# -- codes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRoute:
    """A route that takes a signed code, what it accepts and how it refuses."""

    name: str
    path: str
    field: str
    kind: str  # the kind of code the route takes: "code" (and paper) or "venue"
    invalid: str
    success: int

    @property
    def compact(self) -> bool:
        """Whether the route's genuine codes are compact: header ``alg`` and ``kid`` only; a venue
        code's claims ``v`` and ``g`` (no time claims, issuer, subject or kind to strip), a
        personal code's ``sub``, ``lvl`` and ``exp`` (no issue time, issuer, kind or id)."""
        return True

    @property
    def absent(self) -> frozenset[str]:
        """The variants that only take away what the route's genuine codes never have."""
        return NOTHING_TO_STRIP if self.kind == "venue" else NOTHING_TO_STRIP - {"no exp", "no sub"}

    @property
    def key_use(self) -> str:
        return "venue" if self.kind == "venue" else "code"


VERIFICATIONS = CodeRoute("verifications", "/v1/verifications", "code", "code", "invalid_code", 200)
CHECKINS = CodeRoute("checkins", "/v1/checkins", "venue_code", "venue", "invalid_venue_code", 201)
CODE_ROUTES = (VERIFICATIONS, CHECKINS)


@dataclass
class CodeBench:
    """What the code attacks need on the Guizhou stack: a person (yellow), a venue, genuine codes,
    the stack's signing keys, and how to present a code to each route."""

    gz: Guizhou
    person: Person
    venue: dict[str, Any]
    scanner: str
    templates: dict[str, Any] = field(default_factory=dict)

    def genuine(self, route: CodeRoute) -> str:
        return self.gz.world.code_of(self.person) if route.kind == "code" else str(self.venue["code"])

    def present(self, route: CodeRoute, token: Any) -> Any:
        world = self.gz.world
        if route is VERIFICATIONS:
            body = {"code": token, "checkpoint_id": self.venue["venue_id"]}
            return world.call("POST", route.path, as_=(self.scanner, ["scanner"]), json=body)
        body = {"venue_code": token, "person_id": self.person.person_id, "location": dict(VENUE_LOCATION)}
        return world.call("POST", route.path, as_=(self.person.owner, ["citizen"]), json=body)

    def header(self, route: CodeRoute) -> dict[str, Any]:
        """The header of the route's genuine codes (the same for every code of a kind)."""
        return dict(self._template(route)[0])

    def payload(self, route: CodeRoute) -> dict[str, Any]:
        """The claims of a genuine code of the route, as if issued now on the stack clock."""
        payload = dict(self._template(route)[1])
        if route.kind == "venue":
            return payload  # no time claims: a compact venue code lives while its generation does
        return {**payload, "exp": self.now() + PERSONAL_CODE_SECONDS}

    def _template(self, route: CodeRoute) -> tuple[dict[str, Any], dict[str, Any]]:
        if route.name not in self.templates:
            header, payload, _ = forgery.parts(self.genuine(route))
            self.templates[route.name] = (header, payload)
        return self.templates[route.name]  # type: ignore[no-any-return]

    def resign(
        self, route: CodeRoute, *, key: ec.EllipticCurvePrivateKey | None = None, **changes: Any
    ) -> str:
        """A code of ``route`` as the stack would issue it now, signed by the stack's own key (or
        ``key``), with claim changes (None removes a claim) and header changes under ``header``."""
        header = {**self.header(route), **changes.pop("header", {})}
        payload = {**self.payload(route), **changes}
        signing = key or self.gz.signing_key(route.key_use).private_key()
        return compact(
            {k: v for k, v in header.items() if v is not None},
            {k: v for k, v in payload.items() if v is not None},
            es256(signing),
        )

    def now(self) -> int:
        return int(self.gz.world.now().timestamp())

    def jwk(self, route: CodeRoute) -> dict[str, Any]:
        """The route's verifying key as the stack publishes it (``GET /.well-known/jwks.json``)."""
        if "jwks" not in self.templates:
            self.templates["jwks"] = self.gz.world.call("GET", "/.well-known/jwks.json").json()["keys"]
        kid = self.header(route)["kid"]
        found: dict[str, Any] = next(k for k in self.templates["jwks"] if k["kid"] == kid)
        return found


@pytest.fixture(scope="module")
def bench(guizhou: Guizhou) -> CodeBench:
    world = guizhou.world
    person = world.person  # yellow: a declared contact with a case
    return CodeBench(guizhou, person, world.venue, world.scanner)


CodeForgery = Callable[[CodeBench, CodeRoute], Any]


def _code_header(bench: CodeBench, route: CodeRoute) -> dict[str, Any]:
    return bench.header(route)


def _code_payload(bench: CodeBench, route: CodeRoute) -> dict[str, Any]:
    return bench.payload(route)


def _code_none(alg: str) -> CodeForgery:
    return lambda b, r: compact({**_code_header(b, r), "alg": alg}, _code_payload(b, r), None)


def _code_hmac(secret: Callable[[dict[str, Any]], bytes], alg: str = "HS256") -> CodeForgery:
    def forge(bench: CodeBench, route: CodeRoute) -> str:
        header = {**_code_header(bench, route), "alg": alg}
        return compact(header, _code_payload(bench, route), hs(secret(bench.jwk(route)), alg))

    return forge


def _pem_of(jwk: dict[str, Any]) -> bytes:
    return forgery.public_pem(forgery.ec_public_key_from_jwk(jwk))


def _attacker(**header: Any) -> CodeForgery:
    """The genuine header and claims, plus ``header``, signed by the attacker's key."""
    return lambda b, r: b.resign(r, key=ATTACKER, header=header)


def _real_key(**header: Any) -> CodeForgery:
    """Signed by the stack's own key, with ``header`` added (a key the verifier must not take)."""
    return lambda b, r: b.resign(r, header=header)


def _claims(**changes: Any) -> CodeForgery:
    return lambda b, r: b.resign(r, **changes)


def _timed(make: Callable[[int], dict[str, Any]]) -> CodeForgery:
    return lambda b, r: b.resign(r, **make(b.now()))


def _other_use_key(other: str) -> CodeForgery:
    """Claims and header of the route's kind, signed by the stack's key of use ``other`` (the
    route's own use is swapped for the paper key)."""

    def forge(bench: CodeBench, route: CodeRoute) -> str:
        use = "paper" if other == route.key_use else other
        key = bench.gz.signing_key(use)
        return bench.resign(route, key=key.private_key(), header={"kid": key.kid})

    return forge


def _expired(iat: int, exp: int) -> CodeForgery:
    """A genuine code whose ``exp`` is ``exp`` seconds from now (and a full-form code's ``iat``)."""

    def forge(bench: CodeBench, route: CodeRoute) -> str:
        now = bench.now()
        times = {"exp": now + exp} if route.kind == "code" else {"iat": now + iat, "exp": now + exp}
        return bench.resign(route, **times)

    return forge


def _tampered_code(bench: CodeBench, route: CodeRoute) -> str:
    if route.kind == "code":
        return forgery.tampered(bench.genuine(route), lvl=0)
    return forgery.tampered(bench.genuine(route), lat=39.9, lng=116.4)  # the poster "moved" to Beijing


def _subject_swapped(bench: CodeBench, route: CodeRoute) -> str:
    other = f"p-{uuid.uuid4().hex}"
    return forgery.tampered(bench.genuine(route), sub=person_claim(other) if route.kind == "code" else other)


#: Attack classes for every code route: name → forgeries. Expected answer: 422 with the route's
#: invalid code, except where ``EXPIRED`` says ``code_expired``.
CODE_ATTACKS: dict[str, dict[str, CodeForgery]] = {
    "alg none": {alg: _code_none(alg) for alg in ("none", "None", "NONE", "nOnE")},
    "HS256 keyed with the JWKS public key": {
        "PEM": _code_hmac(_pem_of),
        "PEM without newline": _code_hmac(lambda jwk: _pem_of(jwk).strip()),
        "JWK JSON": _code_hmac(lambda jwk: json.dumps(jwk).encode()),
        "JWK x coordinate": _code_hmac(lambda jwk: forgery.b64url_decode(jwk["x"])),
        "HS512 PEM": _code_hmac(_pem_of, "HS512"),
    },
    "another key with the right kid": {
        "ES256 attacker key": _attacker(),
        "RS256 attacker key": lambda b, r: compact(
            {**_code_header(b, r), "alg": "RS256"}, _code_payload(b, r), rs256(ATTACKER_RSA)
        ),
        "the stack's key of the other use": _other_use_key("venue"),
        "the stack's code key or paper key": _other_use_key("code"),
    },
    "header-supplied keys (attacker-signed)": {
        "jwk": _attacker(jwk=forgery.public_jwk(ATTACKER.public_key())),
        "jku": _attacker(jku="http://127.0.0.1:9/jwks.json"),
        "x5u": _attacker(x5u="http://127.0.0.1:9/cert.pem"),
        "x5c": _attacker(x5c=[forgery.self_signed_certificate(ATTACKER)]),
    },
    "header-supplied keys (genuine signature)": {
        "jwk": _real_key(jwk=forgery.public_jwk(ATTACKER.public_key())),
        "jku": _real_key(jku="http://127.0.0.1:9/jwks.json"),
        "x5u": _real_key(x5u="http://127.0.0.1:9/cert.pem"),
        "x5c": _real_key(x5c=[forgery.self_signed_certificate(ATTACKER)]),
        "crit": _real_key(crit=["exp"]),
    },
    "kid tricks": {f"kid {trick[:24]!r}": _attacker(kid=trick) for trick in KID_TRICKS}
    | {
        "kid as a number": _attacker(kid=1),
        "kid as a list": _attacker(kid=["../../dev/null"]),
        "kid /dev/null, HS256 empty key": lambda b, r: compact(
            {**_code_header(b, r), "alg": "HS256", "kid": "/dev/null"}, _code_payload(b, r), hs256(b"")
        ),
    },
    "missing or malformed time claims (genuine signature)": {
        "no exp": _claims(exp=None),
        "no iat": _claims(iat=None),
        "exp as text": _timed(lambda now: {"exp": str(now + 300)}),
        "iat as text": _timed(lambda now: {"iat": str(now)}),
        "exp as a float": _timed(lambda now: {"exp": now + 300.5}),
        "exp as true": _claims(exp=True),
        "exp before iat": _timed(lambda now: {"iat": now + 30, "exp": now + 20}),
        "exp beyond any calendar": _timed(lambda now: {"iat": now, "exp": 10**20}),
        "iat before any calendar": _timed(lambda now: {"iat": -(10**20), "exp": now + 300}),
        "no jti": _claims(jti=None),
        "no sub": _claims(sub=None),
    },
    "future iat (genuine signature)": {
        "iat in 5 minutes": _timed(lambda now: {"iat": now + 300, "exp": now + 600}),
        "iat in a year": _timed(lambda now: {"iat": now + 365 * 86400, "exp": now + 366 * 86400}),
    },
    "wrong issuer (genuine signature)": {
        "another province": _claims(iss="urn:healthcode:350000"),
        "an https issuer": _claims(iss="https://evil.invalid"),
        "issuer with a space": lambda b, r: b.resign(r, iss=_code_payload(b, r).get("iss", ISSUER) + " "),
        "no issuer": _claims(iss=None),
        "issuer as a list": lambda b, r: b.resign(r, iss=[_code_payload(b, r).get("iss", ISSUER)]),
    },
    "kind confusion": {
        "typ claim of the other kind": lambda b, r: b.resign(r, typ="venue" if r.kind == "code" else "code"),
        "typ header of the other kind": lambda b, r: b.resign(
            r, header={"typ": TYP_HEADER["venue"] if r.kind == "code" else TYP_HEADER["code"]}
        ),
        "no typ": lambda b, r: b.resign(r, typ=None, header={"typ": None}),
    },
    "tampered payload": {
        "colour or location edited": _tampered_code,
        "subject swapped": _subject_swapped,
        "signature stripped": lambda b, r: b.genuine(r).rsplit(".", 1)[0] + ".",
        "signature from another code": lambda b, r: (
            b.resign(r, jti="other").rsplit(".", 1)[0] + "." + b.genuine(r).rsplit(".", 1)[1]
        ),
    },
    "expired (genuine signature)": {
        "a second ago": _expired(-600, -1),
        "exactly now": _expired(-600, 0),
        "a year ago": _expired(-400 * 86400, -365 * 86400),
    },
    "not a code at all": {
        "text": lambda b, r: "健康码 green please",
        "three empty segments": lambda b, r: "..",
        "two segments": lambda b, r: b.genuine(r).rsplit(".", 1)[0],
        "header not an object": lambda b, r: f"{b64url(b'[1]')}.{b64url(b'{}')}.AAAA",
        "over 4 KB": lambda b, r: b.resign(r, pad="x" * 5000),
    },
}
EXPIRED = "expired (genuine signature)"
#: The stack's issuer (what a compact venue code, which names none, is given by these forgeries).
ISSUER = "urn:healthcode:520000"
#: Variants that only take away what a compact venue code never has: for it they are no forgery
#: (its genuine form); every other variant adds a header or claim it may not have, or breaks it.
NOTHING_TO_STRIP = frozenset({"no exp", "no iat", "no jti", "no sub", "no issuer", "no typ"})
#: The policy's personal code lifetime (Guizhou: 5 minutes), for codes re-signed here.
PERSONAL_CODE_SECONDS = 300

CODE_CASES = [
    pytest.param(route, family, forge, id=f"{route.name} | {family}: {name}")
    for route in CODE_ROUTES
    for family, variants in CODE_ATTACKS.items()
    for name, forge in variants.items()
    if name not in route.absent
]


@pytest.mark.parametrize("route", CODE_ROUTES, ids=lambda r: r.name)
def test_genuine_and_honestly_resigned_codes_are_accepted(bench: CodeBench, route: CodeRoute) -> None:
    # GIVEN the stack's own code for the route, and one this module re-signed with the stack's key
    resigned = bench.resign(route)
    for token in (bench.genuine(route), resigned):
        # WHEN presented THEN the route serves it: the harness forges nothing by accident
        answer = bench.present(route, token)
        assert answer.status_code == route.success, answer.text


@pytest.mark.parametrize(("route", "family", "forge"), CODE_CASES)
def test_a_forged_code_is_refused_with_its_error_code(
    bench: CodeBench, route: CodeRoute, family: str, forge: CodeForgery
) -> None:
    # GIVEN a code forged, tampered with, or signed right but wrong in content
    token = forge(bench, route)
    # WHEN presented to the route
    answer = bench.present(route, token)
    # THEN 422 with the route's error code (code_expired for a genuine but expired code) and field
    # (a compact venue code has no expiry: time claims added to one make it no venue code)
    expected = "code_expired" if family == EXPIRED and route.kind == "code" else route.invalid
    assert answer.status_code == 422, answer.text[:300]
    assert answer.json()["error"]["code"] == expected, answer.text[:300]
    assert answer.json()["error"]["field"] == route.field


@pytest.mark.parametrize("route", CODE_ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("value", ["", 12345, {"alg": "none"}, ["a.b.c"]], ids=repr)
def test_a_code_of_the_wrong_type_is_refused(bench: CodeBench, route: CodeRoute, value: Any) -> None:
    # GIVEN something that is not text where the code goes WHEN presented THEN 422 on that field
    # (verifications say invalid_code; check-ins say missing_field, as tests/unit/test_venues.py pins)
    answer = bench.present(route, value)
    assert answer.status_code == 422, answer.text[:300]
    error = answer.json()["error"]
    assert error["field"] == route.field
    assert error["code"] == (route.invalid if route is VERIFICATIONS else "missing_field")


def test_a_venue_code_is_not_a_personal_code(bench: CodeBench) -> None:
    # GIVEN the venue's genuine code WHEN a checkpoint scans it as a personal code THEN refused
    answer = bench.present(VERIFICATIONS, bench.genuine(CHECKINS))
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_code")


def test_a_personal_or_paper_code_is_not_a_venue_code(bench: CodeBench) -> None:
    # GIVEN a person's genuine dynamic code and paper code
    world = bench.gz.world
    paper = world.ok(
        "POST", f"/v1/codes/{bench.person.person_id}/paper", as_=(bench.person.owner, ["citizen"])
    )
    for token in (bench.genuine(VERIFICATIONS), paper["token"]):
        # WHEN scanned as a venue's poster THEN refused as a venue code
        answer = bench.present(CHECKINS, token)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_venue_code")


def test_a_replaced_paper_code_is_refused(bench: CodeBench) -> None:
    # GIVEN a paper code, then a newer one issued for the same person (it revokes the first)
    world, person = bench.gz.world, bench.person
    path = f"/v1/codes/{person.person_id}/paper"
    first = world.ok("POST", path, as_=(person.owner, ["citizen"]))["token"]
    second = world.ok("POST", path, as_=(person.owner, ["citizen"]))["token"]
    # WHEN each is scanned at a checkpoint THEN the first is refused and the current one passes
    refused = bench.present(VERIFICATIONS, first)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_code")
    assert bench.present(VERIFICATIONS, second).status_code == 200


def test_a_code_expires_on_the_stack_clock(guizhou: Guizhou) -> None:
    # GIVEN a genuine dynamic code (5 minutes) and the clock moved past its expiry
    world = guizhou.world
    person = world.apply(account("citizen"))
    token = world.code_of(person)
    _, claims, _ = forgery.parts(token)
    world.advance(claims["exp"] - int(world.now().timestamp()) + 1)
    # WHEN a checkpoint scans it THEN 422 code_expired
    body = {"code": token, "checkpoint_id": world.venue["venue_id"]}
    answer = world.call("POST", "/v1/verifications", as_=(world.scanner, ["scanner"]), json=body)
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "code_expired")


def test_codes_of_a_province_not_on_the_trust_list_are_refused(
    guizhou: Guizhou, fujian: SecurityStack
) -> None:
    # GIVEN a Fujian citizen's genuine code and a genuine Fujian venue code (Guizhou trusts nobody)
    other = World(fujian.stack)
    person = other.apply(account("citizen"), region_code="350102", address="福建省福州市鼓楼区五一北路1号")
    fujian_code = other.code_of(person)
    fujian_venue = other.register_venue(
        account("venue_manager"),
        region_code="350102",
        location={"lat": 26.08, "lng": 119.30},
        address="福建省福州市鼓楼区五一北路1号",
    )["code"]
    world = guizhou.world
    # WHEN a Guizhou checkpoint scans the personal code THEN invalid_code
    body = {"code": fujian_code, "checkpoint_id": world.venue["venue_id"]}
    answer = world.call("POST", "/v1/verifications", as_=(world.scanner, ["scanner"]), json=body)
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_code")
    # AND a Guizhou citizen scanning the Fujian poster gets invalid_venue_code
    person_here = world.person
    body = {"venue_code": fujian_venue, "person_id": person_here.person_id, "location": dict(VENUE_LOCATION)}
    answer = world.call("POST", "/v1/checkins", as_=(person_here.owner, ["citizen"]), json=body)
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_venue_code")


# -- random corruption of genuine tokens (the larger setting: HYPOTHESIS_PROFILE=thorough) ---------

#: A quarter of the profile's examples per token kind: 25 by default, 500 when thorough.
MUTATIONS = settings(
    max_examples=max(10, settings().max_examples // 4),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)
_FLIP = st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 7))


def flip_bit(token: str, segment: int, position: int, bit: int) -> str:
    """``token`` with one bit of one decoded segment flipped (the text always changes meaning:
    flipping base64 text could land on unused bits and leave the bytes as they were)."""
    segments = token.split(".")
    raw = bytearray(forgery.b64url_decode(segments[segment]))
    raw[position % len(raw)] ^= 1 << bit
    segments[segment] = b64url(bytes(raw))
    return ".".join(segments)


@MUTATIONS
@given(flip=_FLIP)
def test_no_bit_flip_of_a_genuine_caller_token_is_accepted(
    guizhou: Guizhou, flip: tuple[int, int, int]
) -> None:
    # GIVEN an official's genuine token with one bit flipped anywhere
    token = flip_bit(guizhou.caller_token(), *flip)
    # WHEN it calls the official route THEN 401 from the authorizer, never a page and never a 5xx
    answer = guizhou.world.call("GET", OFFICIAL_ROUTE, headers={"Authorization": f"Bearer {token}"})
    _refused_as_api_gateway_does(answer)


@pytest.mark.parametrize("route", CODE_ROUTES, ids=lambda r: r.name)
@MUTATIONS
@given(flip=_FLIP)
def test_no_bit_flip_of_a_genuine_code_is_accepted(
    bench: CodeBench, route: CodeRoute, flip: tuple[int, int, int]
) -> None:
    # GIVEN a code the stack's own key signed just now, with one bit flipped anywhere
    token = flip_bit(bench.resign(route), *flip)
    # WHEN presented THEN refused as forged, with the field, never accepted and never a 5xx
    answer = bench.present(route, token)
    assert answer.status_code == 422, answer.text[:300]
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (route.invalid, route.field)


def attack_counts() -> dict[str, int]:
    """Attacks tried per class (both code routes counted), for the closing note."""
    counts = {f"caller token: {family}": len(v) for family, v in CALLER_ATTACKS.items()}
    counts["caller token: malformed Authorization"] = len(MALFORMED_AUTHORIZATION)
    for family, variants in CODE_ATTACKS.items():
        counts[f"code: {family}"] = len(variants) * len(CODE_ROUTES)
    counts["caller token: random bit flips"] = MUTATIONS.max_examples
    counts["code: random bit flips"] = MUTATIONS.max_examples * len(CODE_ROUTES)
    return counts
