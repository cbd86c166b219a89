"""Hand-made JWTs for the token-attack suite: any header, any payload, any signature.

PyJWT refuses to build most of these (``alg: none`` with a key, HS256 keyed with a PEM public
key), which is the point of a verifier test: the attacker is not bound by the library. So the
compact serialisation is assembled here by hand; ES256 signatures are made with ``cryptography``
and converted from DER to JOSE's raw ``r || s`` form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

#: Signs the signing input (``header.payload`` as ASCII bytes); returns the raw signature bytes.
Signer = Callable[[bytes], bytes]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def compact(header: Mapping[str, Any], payload: Mapping[str, Any], sign: Signer | None) -> str:
    """``header.payload.signature``; no signer gives an empty signature (``alg: none``)."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = sign(signing_input.encode("ascii")) if sign is not None else b""
    return f"{signing_input}.{b64url(signature)}"


def es256(key: ec.EllipticCurvePrivateKey) -> Signer:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


HMAC_DIGESTS: dict[str, Callable[[], Any]] = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}


def hs(secret: bytes, alg: str = "HS256") -> Signer:
    """An HMAC signer for ``alg`` (HS256/384/512) keyed with ``secret``: whatever bytes an
    attacker hopes the verifier will use as its key."""
    digest = HMAC_DIGESTS[alg]
    return lambda data: hmac.new(secret, data, digest).digest()


def hs256(secret: bytes) -> Signer:
    return hs(secret, "HS256")


def rs256(key: rsa.RSAPrivateKey) -> Signer:
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The header and payload of a genuine token (unverified) and its signature segment."""
    header, payload, signature = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload)), signature


def tampered(token: str, **claims: Any) -> str:
    """``token`` with claims changed and the original signature kept."""
    header, payload, signature = parts(token)
    return f"{segment(header)}.{segment({**payload, **claims})}.{signature}"


# -- keys an attacker holds ------------------------------------------------------------------------


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_jwk(key: ec.EllipticCurvePublicKey, kid: str | None = None) -> dict[str, str]:
    numbers = key.public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }
    return {**jwk, "kid": kid} if kid is not None else jwk


def ec_public_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    x = int.from_bytes(b64url_decode(str(jwk["x"])), "big")
    y = int.from_bytes(b64url_decode(str(jwk["y"])), "big")
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


def self_signed_certificate(key: ec.EllipticCurvePrivateKey) -> str:
    """A base64 DER certificate for ``key`` (an ``x5c`` entry), valid today."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.invalid")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")


#: ``kid`` values that would matter if a verifier looked keys up in a file system or a database.
KID_TRICKS: tuple[str, ...] = (
    "../../../../../../dev/null",
    "/dev/null",
    "../../.well-known/jwks.json",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "' OR '1'='1",
    "x' UNION SELECT 'secret' --",
    "*",
    "",
    "\u0000",
    "k" * 5000,
)
