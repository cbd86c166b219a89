"""Checks of how the pages are served: the CloudFront distribution in front of the pages bucket.

moto has no CloudFront behind its CloudFormation, so the distribution, its origin access identity
and its response-headers policy are stood in by ids (:func:`stand_in`); after the stack their
properties are resolved against what was created and checked here: the origin is the stack's own
pages bucket read through the identity the bucket policy trusts, viewers are sent to HTTPS, the
Content-Security-Policy names the stack's API and no wildcard, and in the China regions the
distribution serves its ICP-filed domain with an IAM server certificate.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from infra.local.intrinsics import Unresolvable

if TYPE_CHECKING:
    from infra.rehearsal.rehearsal import Rehearsal

DISTRIBUTION = "AWS::CloudFront::Distribution"


def stand_in(logical: str, kind: str, partition: str) -> dict[str, str]:
    """Ids (and the attributes templates read) for a CloudFront resource, stable per logical id."""
    digest = hashlib.sha256(logical.encode()).hexdigest()
    ident = ("E" + digest[:13]).upper()
    known = {"Ref": ident, "Id": ident}
    if kind == DISTRIBUTION:
        known["DomainName"] = f"{ident.lower()}.cloudfront.{'cn' if partition == 'aws-cn' else 'net'}"
    if kind == "AWS::CloudFront::CloudFrontOriginAccessIdentity":
        known["S3CanonicalUserId"] = digest * 2
    return known


def _origin_bucket(origin: dict[str, Any]) -> str | None:
    """The logical id of the bucket an origin's ``DomainName`` names with ``Fn::GetAtt``."""
    target = origin.get("DomainName")
    if isinstance(target, dict) and "Fn::GetAtt" in target:
        arg = target["Fn::GetAtt"]
        logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
        if attribute in ("RegionalDomainName", "DomainName"):
            return str(logical)
    return None


def pages_buckets(rehearsal: Rehearsal) -> set[str]:
    """Buckets that are a CloudFront distribution's origin in the template (public pages)."""
    found = set()
    for spec in rehearsal.translated_of(DISTRIBUTION).values():
        for origin in spec["Properties"]["DistributionConfig"].get("Origins", []):
            bucket = _origin_bucket(origin)
            if bucket:
                found.add(bucket)
    return found


def check_distribution(rehearsal: Rehearsal) -> None:
    resolver = rehearsal.intrinsics()
    for logical, spec in rehearsal.translated_of(DISTRIBUTION).items():
        if logical not in rehearsal.known:
            continue  # its condition is false in this environment
        try:
            config = resolver.resolve(spec["Properties"]["DistributionConfig"])
        except Unresolvable as error:
            rehearsal.check("web", f"{logical} resolves", False, str(error))
            continue
        _check_origin(rehearsal, logical, spec["Properties"]["DistributionConfig"], config)
        behaviour = config["DefaultCacheBehavior"]
        rehearsal.check(
            "web",
            f"{logical} HTTPS",
            behaviour.get("ViewerProtocolPolicy") in ("redirect-to-https", "https-only")
            and set(behaviour.get("AllowedMethods", [])) <= {"GET", "HEAD", "OPTIONS"},
            f"{behaviour.get('ViewerProtocolPolicy')}, {behaviour.get('AllowedMethods')}",
        )
        _check_headers(rehearsal, logical, behaviour.get("ResponseHeadersPolicyId"))
        certificate = config.get("ViewerCertificate", {})
        china = rehearsal.partition == "aws-cn"
        aliases = [a for a in config.get("Aliases") or [] if a]
        rehearsal.check(
            "web",
            f"{logical} domain",
            bool(aliases and certificate.get("IamCertificateId")) if china else bool(certificate),
            f"aliases {aliases}, certificate {certificate}"
            + (" (China: an ICP-filed domain with an IAM server certificate)" if china else ""),
        )


def _check_origin(rehearsal: Rehearsal, logical: str, source: dict[str, Any], config: dict[str, Any]) -> None:
    """One origin: the stack's pages bucket, read through the identity its policy trusts alone."""
    origins = config.get("Origins", [])
    buckets = [_origin_bucket(o) for o in source.get("Origins", [])]
    ok = len(origins) == 1 and buckets[0] is not None and buckets[0] in rehearsal.physical
    detail = f"origins {[o.get('DomainName') for o in origins]}"
    if ok:
        bucket = str(buckets[0])
        identity = str(origins[0].get("S3OriginConfig", {}).get("OriginAccessIdentity", ""))
        readers = _policy_readers(rehearsal, rehearsal.physical[bucket])
        trusted = {
            logical_id
            for logical_id, known in rehearsal.known.items()
            if known.get("S3CanonicalUserId") in readers
        }
        ok = (
            origins[0]["DomainName"] == rehearsal.attribute(bucket, "RegionalDomainName")
            and len(trusted) == 1
            and identity.endswith("/" + rehearsal.known[next(iter(trusted))]["Id"])
        )
        detail += f"; {bucket} readable by {sorted(trusted)} only; origin identity {identity}"
    rehearsal.check("web", f"{logical} origin", ok, detail)


def _policy_readers(rehearsal: Rehearsal, bucket: str) -> set[str]:
    try:
        policy = json.loads(rehearsal.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    except Exception:  # noqa: BLE001 - no policy: nobody reads
        return set()
    statements = policy.get("Statement", [])
    return {
        str(s.get("Principal", {}).get("CanonicalUser"))
        for s in (statements if isinstance(statements, list) else [statements])
        if s.get("Effect") == "Allow" and isinstance(s.get("Principal"), dict)
    }


def _check_headers(rehearsal: Rehearsal, logical: str, policy_id: Any) -> None:
    """The response-headers policy: a CSP naming only the page, the API and the sign-in, HSTS."""
    named = [k for k, known in rehearsal.known.items() if known.get("Id") == policy_id]
    if not rehearsal.check("web", f"{logical} headers policy", len(named) == 1, f"{policy_id} -> {named}"):
        return
    try:
        config = rehearsal.intrinsics().resolve(
            rehearsal.outside[named[0]]["Properties"]["ResponseHeadersPolicyConfig"]
        )
    except Unresolvable as error:
        rehearsal.check("web", f"{named[0]} resolves", False, str(error))
        return
    security = config.get("SecurityHeadersConfig", {})
    csp = str(security.get("ContentSecurityPolicy", {}).get("ContentSecurityPolicy", ""))
    directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}
    api = rehearsal.intrinsics().resolve(rehearsal.source["Outputs"]["ApiUrl"]["Value"])
    rehearsal.check(
        "web",
        f"{named[0]} CSP",
        directives.get("default-src") == ["'self'"]
        and directives.get("script-src") == ["'self'"]
        and directives.get("frame-ancestors") == ["'none'"]
        and api in directives.get("connect-src", [])
        and not any("*" in source for sources in directives.values() for source in sources),
        csp,
    )
    hsts = security.get("StrictTransportSecurity", {})
    rehearsal.check(
        "web",
        f"{named[0]} HSTS, nosniff, no referrer",
        int(hsts.get("AccessControlMaxAgeSec", 0)) >= 31536000
        and "ContentTypeOptions" in security
        and security.get("ReferrerPolicy", {}).get("ReferrerPolicy") == "no-referrer",
        f"HSTS {hsts.get('AccessControlMaxAgeSec')} s",
    )
