"""Checks of who may do what: every role's policies (no wildcard action, no data action on every
resource), every route's function and invoke permission, the JWT authorizer, the public routes."""

from __future__ import annotations

import ast
import json
import re
from typing import TYPE_CHECKING, Any

from infra.local.template import Template
from infra.rehearsal import versions

if TYPE_CHECKING:
    from infra.rehearsal.rehearsal import Rehearsal


#: Stream-reading actions SAM's AWSLambdaDynamoDBExecutionRole grants on every resource.
STREAM_READ = frozenset(
    {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}
)
#: The AWS managed policies SAM attaches to function roles, as AWS publishes them (moto's
#: CloudFormation does not attach managed policies, so their documents are known here).
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "AWSLambdaDynamoDBExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                *sorted(STREAM_READ),
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}
#: Services whose actions touch data: never on every resource.
DATA_SERVICES = ("dynamodb:", "s3:", "kms:", "secretsmanager:", "sqs:", "sns:")


def as_list(value: Any) -> list[Any]:
    """A policy element that may be one value or a list, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def check_roles(rehearsal: Rehearsal) -> None:
    iam = rehearsal.client("iam")
    for logical, spec in rehearsal.translated_of("AWS::IAM::Role").items():
        name = rehearsal.physical[logical]
        statements: list[tuple[str, dict[str, Any]]] = []
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
            if isinstance(document, str):
                # moto keeps a CloudFormation role's inline policy as the repr of a dict
                try:
                    document = json.loads(document)
                except ValueError:
                    document = ast.literal_eval(document)
            statements += [(policy_name, s) for s in as_list(document.get("Statement"))]
        unknown_managed = []
        for arn in spec["Properties"].get("ManagedPolicyArns", []):
            managed = str(arn).rsplit("/", 1)[1]
            if managed in MANAGED_POLICIES:
                statements += [
                    (f"{managed} (managed, from the translation)", s) for s in MANAGED_POLICIES[managed]
                ]
            else:
                unknown_managed.append(str(arn))
        problems, notes = [], []
        for source, statement in statements:
            if statement.get("Effect") != "Allow":
                continue
            actions = as_list(statement.get("Action"))
            resources = as_list(statement.get("Resource"))
            for action in actions:
                if action == "*" or action.endswith(":*"):
                    problems.append(f"{source}: wildcard action {action}")
                if "*" in resources and action.startswith(DATA_SERVICES):
                    if action in STREAM_READ:
                        notes.append(action.split(":", 1)[1])
                    else:
                        problems.append(f"{source}: {action} on *")
        if unknown_managed:
            problems.append(f"managed policies not reviewed: {unknown_managed}")
        trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        principals = {
            str(p)
            for s in as_list(trust.get("Statement"))
            for p in as_list(s.get("Principal", {}).get("Service"))
        }
        if principals != {"lambda.amazonaws.com"}:
            problems.append(f"trusted by {sorted(principals)}")
        detail = "; ".join(problems) or f"{len(statements)} statements, no dynamodb:* or data action on *"
        if notes and not problems:
            detail += " (stream reads on * come from SAM's AWSLambdaDynamoDBExecutionRole)"
        rehearsal.check("roles", logical, not problems, detail)


def check_api(rehearsal: Rehearsal) -> None:
    apis = {k: v for k, v in rehearsal.outside.items() if v["Type"] == "AWS::ApiGatewayV2::Api"}
    gateway = rehearsal.client("apigatewayv2")
    lambda_ = rehearsal.client("lambda")
    parameters = {k: str(v) for k, v in rehearsal.parameter_values().items()}
    routes = {
        r.key: r
        for r in Template(
            rehearsal.template_path, rehearsal.env.stack_name, parameters, rehearsal.env.region
        ).routes()
    }
    # what an integration may invoke: a function, or the alias its published versions run under
    invocable = {rehearsal.attribute(k, "Arn"): k for k in rehearsal.translated_of("AWS::Lambda::Function")}
    invocable |= {rehearsal.physical[alias]: alias for alias in versions.aliases(rehearsal)}
    for logical, spec in apis.items():
        api_id = rehearsal.known[logical]["ApiId"]
        made = {r["RouteKey"]: r for r in gateway.get_routes(ApiId=api_id)["Items"]}
        integrations = {i["IntegrationId"]: i for i in gateway.get_integrations(ApiId=api_id)["Items"]}
        rehearsal.check(
            "api",
            f"{logical} routes",
            set(made) == set(routes),
            f"{len(made)} routes, as template.yaml declares",
        )
        for key, route in made.items():
            integration = integrations.get(route.get("Target", "").removeprefix("integrations/"), {})
            uri = str(integration.get("IntegrationUri", ""))
            invoked = next(
                (name for arn, name in invocable.items() if f"/functions/{arn}/invocations" in uri), None
            )
            target = versions.function_of(rehearsal, invoked) if invoked else None
            permitted = False
            if invoked is not None:
                # an alias's permissions are its own (GetPolicy of the alias ARN), as in Lambda
                policy = json.loads(lambda_.get_policy(FunctionName=rehearsal.physical[invoked])["Policy"])
                method, path = key.split(" ", 1)
                source_arn = f"{api_id}/*/{method}{re.sub(r'[{][^}]+[}]', '*', path)}"
                for statement in policy.get("Statement", []):
                    text = json.dumps(statement)
                    if "apigateway.amazonaws.com" in text and source_arn in text:
                        permitted = True
            declared = routes.get(key)
            problems = []
            if declared is None or target != declared.function:
                problems.append(f"integrates {target}, template.yaml says {declared and declared.function}")
            if not permitted:
                problems.append("the function's policy does not let this API invoke it")
            rehearsal.check(
                "api", key, not problems, "; ".join(problems) or f"-> {invoked}, invoke permitted"
            )
        body = spec["Properties"].get("Body", {})
        schemes = body.get("components", {}).get("securitySchemes", {})
        for name, scheme in schemes.items():
            jwt = scheme.get("x-amazon-apigateway-authorizer", {}).get("jwtConfiguration", {})
            issuer = rehearsal.intrinsics().resolve(jwt.get("issuer"))
            audience = rehearsal.intrinsics().resolve(jwt.get("audience"))
            rehearsal.check(
                "api",
                f"authorizer {name}",
                issuer == parameters.get("CallerIssuer") and audience == [parameters.get("CallerAudience")],
                f"issuer {issuer}, audience {audience} (translation: moto does not import authorizers)",
            )
        open_routes = sorted(
            f"{method.upper()} {path}"
            for path, methods in body.get("paths", {}).items()
            for method, operation in methods.items()
            if isinstance(operation, dict) and {"NONE": []} in operation.get("security", [{"NONE": []}])
        )
        rehearsal.check(
            "api",
            "public routes",
            open_routes == sorted(key for key, route in routes.items() if not route.authorized),
            ", ".join(open_routes),
        )
