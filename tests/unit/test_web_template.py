"""The pages in AWS (template.yaml): a private, versioned bucket only the stack's CloudFront
distribution reads, a response-headers policy whose CSP allows the page's own origin, the API and
the sign-in only, one parameter turning it all off, the China rules (ICP-filed domain and IAM
certificate), and the outputs `make deploy-web` reads."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from infra.local.intrinsics import Intrinsics, Unresolvable, condition_holds, evaluate_conditions
from infra.local.template import load_yaml
from infra.ops.environments import load_environment
from infra.ops.web_config import REQUIRED_OUTPUTS
from infra.rehearsal.parameters import check_parameters
from infra.rehearsal.rehearsal import DEFAULT_TEMPLATE, Rehearsal

TEMPLATE = load_yaml(DEFAULT_TEMPLATE)
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
WEB = {name: spec for name, spec in RESOURCES.items() if name.startswith("Web")}


def test_one_parameter_turns_every_web_resource_and_output_off() -> None:
    parameter = TEMPLATE["Parameters"]["WebConsole"]
    assert parameter["AllowedValues"] == ["Enabled", "Disabled"] and parameter["Default"] == "Enabled"
    assert TEMPLATE["Conditions"]["WebConsoleOn"] == {"Fn::Equals": [{"Ref": "WebConsole"}, "Enabled"]}
    assert {
        "WebBucket",
        "WebBucketPolicy",
        "WebOriginAccessIdentity",
        "WebResponseHeadersPolicy",
        "WebDistribution",
    } <= set(WEB)
    assert all(spec.get("Condition") == "WebConsoleOn" for spec in WEB.values())
    outputs = TEMPLATE["Outputs"]
    assert all(o.get("Condition") == "WebConsoleOn" for name, o in outputs.items() if name.startswith("Web"))


def test_the_bucket_is_private_versioned_encrypted_and_read_by_the_distribution_alone() -> None:
    props = RESOURCES["WebBucket"]["Properties"]
    assert (
        all(props["PublicAccessBlockConfiguration"].values())
        and len(props["PublicAccessBlockConfiguration"]) == 4
    )
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    statements = RESOURCES["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "ThisDistributionReadsPages",
            "Effect": "Allow",
            "Principal": {"CanonicalUser": {"Fn::GetAtt": ["WebOriginAccessIdentity", "S3CanonicalUserId"]}},
            "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "${WebBucket.Arn}/*"},
        }
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    (origin,) = RESOURCES["WebDistribution"]["Properties"]["DistributionConfig"]["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["WebBucket", "RegionalDomainName"]}
    assert "WebOriginAccessIdentity" in origin["S3OriginConfig"]["OriginAccessIdentity"]["Fn::Sub"]


def test_the_csp_allows_only_the_page_the_api_and_the_sign_in() -> None:
    security = RESOURCES["WebResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"
    ]
    csp = " ".join(security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"].split())
    directives = {d.strip().split(" ", 1)[0]: d.strip().partition(" ")[2] for d in csp.split(";")}
    assert directives == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data: blob:",
        "connect-src": "'self' https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
        " ${CallerIssuer}/ ${WebSignInOrigin}",
        "media-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
    }
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    behaviour = RESOURCES["WebDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https" and behaviour["AllowedMethods"] == [
        "GET",
        "HEAD",
    ]
    assert behaviour["ResponseHeadersPolicyId"] == {"Fn::GetAtt": ["WebResponseHeadersPolicy", "Id"]}


def test_the_outputs_hold_what_deploy_web_and_the_pages_need() -> None:
    outputs = TEMPLATE["Outputs"]
    assert set(REQUIRED_OUTPUTS) | {
        "WebDistributionId",
        "WebConsoleUrl",
        "WebH5Url",
        "WebDistributionDomain",
    } <= set(outputs)
    assert outputs["SignInIssuer"]["Value"] == {"Ref": "CallerIssuer"}
    assert outputs["SignInClientId"]["Value"] == {"Ref": "CallerAudience"}


def _parameter_checks(**parameters: str) -> dict[str, tuple[bool, str]]:
    base = load_environment("henan")
    env = replace(base, name="web", parameters={**base.parameters, **parameters})
    rehearsal = Rehearsal(env, DEFAULT_TEMPLATE)
    check_parameters(rehearsal)
    return {c.subject: (c.ok, c.detail) for c in rehearsal.report.checks}


def test_a_china_stack_serving_pages_needs_its_icp_domain_and_iam_certificate() -> None:
    # GIVEN a China-region environment (all of samconfig.toml's) without the domain
    checks = _parameter_checks(WebDomainName="", WebCertificateId="")
    # THEN the rehearsal refuses it as CloudFormation's rule would
    ok, detail = checks["rule WebConsoleInChinaNeedsDomain"]
    assert not ok and "WebDomainName" in detail and "WebCertificateId" in detail
    # AND a domain without its certificate is refused anywhere
    assert not _parameter_checks(WebCertificateId="")["rule WebDomainNeedsCertificate"][0]
    # AND without the console, or with both, every rule holds
    for parameters in ({"WebConsole": "Disabled", "WebDomainName": "", "WebCertificateId": ""}, {}):
        checks = _parameter_checks(**parameters)
        assert all(ok for subject, (ok, _) in checks.items() if subject.startswith("rule ")), checks


def test_conditions_and_fn_if_are_evaluated_as_cloudformation_does() -> None:
    values = {"WebConsole": "Enabled", "WebDomainName": "", "AWS::Region": "cn-north-1"}

    def ref(name: str) -> str:
        if name not in values:
            raise Unresolvable(name)
        return values[name]

    def attribute(logical: str, name: str) -> str:
        raise Unresolvable(logical)

    intrinsics = Intrinsics(ref, attribute)
    declared = {k: TEMPLATE["Conditions"][k] for k in ("WebConsoleOn", "HasWebDomain")}
    conditions = evaluate_conditions(declared, intrinsics)
    assert conditions == {"WebConsoleOn": True, "HasWebDomain": False}
    chosen = Intrinsics(ref, attribute, conditions=conditions).resolve({"Fn::If": ["HasWebDomain", "a", "b"]})
    assert chosen == "b"
    china = {"Fn::Contains": [["cn-north-1", "cn-northwest-1"], {"Ref": "AWS::Region"}]}
    assert condition_holds(china, declared, intrinsics)
    assert condition_holds({"Fn::And": [{"Condition": "WebConsoleOn"}, china]}, declared, intrinsics)
    with pytest.raises(Unresolvable):
        condition_holds({"Fn::Equals": [{"Ref": "Nowhere"}, "x"]}, declared, intrinsics)
