"""Compact JWS for the stack's codes: ES256 over P-256 and nothing else (RFC 7515, RFC 7518 §3.4).

The codes need one algorithm and three header shapes, so this is all a request path carries
instead of a general JWT library (whose every-algorithm and X.509 support cost a cold start about
a tenth of the floor, issue 18). It is strict where a general library is lenient:

* structure: exactly three segments, each canonical base64url (the URL-safe alphabet, no
  padding, no spare bits set: one spelling per token, so a token cannot be re-spelled);
* header and claims: UTF-8 JSON objects, no duplicate member names (RFC 7515 and 7519 let a
  reader refuse them; one reader taking the last would see what another taking the first does
  not), no ``NaN``/``Infinity``;
* header: ``alg`` is ``ES256`` exactly, never read from the token to choose a verifier
  (``none``, ``HS256`` and ``es256`` are refused alike); ``crit`` is refused (this module
  understands no extension, RFC 7515 §4.1.11); ``kid``, when present, is a string;
* signature: the 64 bytes ``r || s`` (RFC 7518 §3.4), checked against a P-256 public key
  before the claims are read.

What a token's header and claims must hold beyond that — which members, which values, expiry
and issuer — is the caller's (``healthcode.codes.tokens``): ``verify`` returns the claims only.

``cryptography``'s EC and hash modules load with the first signature made or checked, not at
import: a function imports this module for routes that may never see a code.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"  # pinned: never taken from the token
#: Bytes of one P-256 coordinate or signature half.
COORDINATE_BYTES = 32
SIGNATURE_BYTES = 2 * COORDINATE_BYTES
#: Longest token read at all (callers bound each kind far lower).
MAX_TOKEN_CHARS = 8192
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_CURVE = "secp256r1"


class JWSError(ValueError):
    """Not a well-formed ES256 compact JWS, or its signature does not verify."""


@dataclass(frozen=True)
class Compact:
    """A token split and its header read, nothing verified yet."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    def unverified_claims(self) -> dict[str, Any]:
        """The claims before the signature is checked: only to find the key that checks it."""
        return _json_object(self.payload, "claims")


# --- encoding ------------------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """The bytes of a canonical base64url segment; JWSError for any other spelling (padding,
    characters outside the URL-safe alphabet, a length no encoding has, spare bits set)."""
    if not isinstance(segment, str) or len(segment) % 4 == 1 or not _ALPHABET.issuperset(segment):
        raise JWSError("not canonical base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JWSError("not canonical base64url") from exc
    if b64url_encode(data) != segment:
        raise JWSError("not canonical base64url")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise JWSError(f"duplicate member {name[:40]!r}")
        found[name] = value
    return found


def _no_constant(name: str) -> Any:
    raise JWSError(f"{name} is not JSON")


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(
            data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError, JWSError
        raise JWSError(f"{what} are not a JSON object") from exc
    if not isinstance(value, dict):
        raise JWSError(f"{what} are not a JSON object")
    return value


def _json_bytes(value: Mapping[str, Any], *, sort_keys: bool) -> bytes:
    """Compact JSON, UTF-8 as is (a Chinese venue name is 3 bytes a character, not a 6-byte
    ``\\uXXXX`` escape, so older venue codes and their QR symbols stay small)."""
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, sort_keys=sort_keys
    ).encode("utf-8")


# --- reading ------------------------------------------------------------------------------------


def parse(token: object) -> Compact:
    """Split ``token`` and read its header, strictly (see the module docstring); the claims stay
    bytes until ``verify`` (or ``Compact.unverified_claims``). Raises JWSError."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise JWSError("not a compact JWS")
    segments = token.split(".")
    if len(segments) != 3:
        raise JWSError("a compact JWS has three segments")
    header = _json_object(b64url_decode(segments[0]), "header")
    if "crit" in header:
        raise JWSError("critical header parameters are not supported")
    if "kid" in header and not isinstance(header["kid"], str):
        raise JWSError("kid is not a string")
    return Compact(
        header=header,
        payload=b64url_decode(segments[1]),
        signing_input=f"{segments[0]}.{segments[1]}".encode("ascii"),
        signature=b64url_decode(segments[2]),
    )


def header(token: object) -> dict[str, Any]:
    """The header of ``token``, unverified (which key, which shape). Raises JWSError."""
    return parse(token).header


def verify(token: str | Compact, public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The claims of ``token`` once its ES256 signature verifies with ``public_key`` (a P-256
    public key). Raises JWSError: another ``alg``, a signature not 64 bytes or not valid, claims
    that are not a JSON object."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    compact = token if isinstance(token, Compact) else parse(token)
    alg = compact.header.get("alg")
    if not isinstance(alg, str) or alg != ALGORITHM:
        raise JWSError("algorithm not allowed")
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != _CURVE:
        raise JWSError("not a P-256 public key")
    if len(compact.signature) != SIGNATURE_BYTES:
        raise JWSError("an ES256 signature is 64 bytes")
    r = int.from_bytes(compact.signature[:COORDINATE_BYTES], "big")
    s = int.from_bytes(compact.signature[COORDINATE_BYTES:], "big")
    try:
        public_key.verify(utils.encode_dss_signature(r, s), compact.signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise JWSError("signature does not verify") from exc
    return _json_object(compact.payload, "claims")


# --- signing ------------------------------------------------------------------------------------


def sign(
    claims: Mapping[str, Any], private_key: ec.EllipticCurvePrivateKey, *, kid: str, typ: str | None = None
) -> str:
    """An ES256 compact JWS of ``claims`` whose header is ``{alg, kid}`` and, given, ``typ``
    (members sorted, as other JWT libraries write them)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or private_key.curve.name != _CURVE:
        raise ValueError("ES256 signs with a P-256 private key")
    if not isinstance(kid, str) or not kid:
        raise ValueError("a key id is a non-empty string")
    fields = {"alg": ALGORITHM, "kid": kid} if typ is None else {"alg": ALGORITHM, "kid": kid, "typ": typ}
    encoded_header = b64url_encode(_json_bytes(fields, sort_keys=True))
    signing_input = f"{encoded_header}.{b64url_encode(_json_bytes(claims, sort_keys=False))}"
    der = private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = utils.decode_dss_signature(der)
    raw = r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")
    return f"{signing_input}.{b64url_encode(raw)}"


# --- keys ---------------------------------------------------------------------------------------


def public_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The P-256 public key a JWK (RFC 7518 §6.2) holds: ``kty`` ``EC``, ``crv`` ``P-256``,
    ``x`` and ``y`` of 32 bytes each, a point on the curve. Raises JWSError otherwise (a private
    key's ``d`` is the caller's to refuse)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise JWSError("not an EC P-256 key")
    x, y = jwk.get("x"), jwk.get("y")
    if not isinstance(x, str) or not isinstance(y, str):
        raise JWSError("an EC key has x and y")
    raw_x, raw_y = b64url_decode(x), b64url_decode(y)
    if len(raw_x) != COORDINATE_BYTES or len(raw_y) != COORDINATE_BYTES:
        raise JWSError("P-256 coordinates are 32 bytes")
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(raw_x, "big"), int.from_bytes(raw_y, "big"), ec.SECP256R1()
    )
    try:
        return numbers.public_key()
    except ValueError as exc:  # not a point on the curve
        raise JWSError("not a point on P-256") from exc
