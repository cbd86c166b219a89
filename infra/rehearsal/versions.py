"""Published versions and the ``live`` alias: what SnapStart applies to, rehearsed and checked.

Every function publishes a version per release (SAM's ``AutoPublishAlias``) and its events —
HTTP routes, stream mappings, schedules, invoke permissions — name the alias, not the function:
SnapStart (``SnapStart=On``) snapshots published versions only, so an event that named the
function itself would run ``$LATEST`` and never restore a snapshot.

moto's CloudFormation creates ``AWS::Lambda::Version`` (it publishes through moto's Lambda) but
has no ``AWS::Lambda::Alias`` and no ``Fn::GetAtt <Version>.Version``. :func:`teach_moto` adds
both, creating the alias with moto's own Lambda alias API, so the stack's routes and mappings
refer to a real alias the checks then read back (``GetAlias``, the version's code hash). moto's
Lambda keeps no SnapStart setting: that is checked in the translation, and says so.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.rehearsal.rehearsal import Rehearsal

ALIAS = "AWS::Lambda::Alias"
#: Resources through which events reach a function: each must name the function's alias.
EVENT_SOURCES = (
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Events::Rule",
    "AWS::ApiGatewayV2::Api",
)
#: Of those, the ones that exist only to name a function (so each must name an alias).
NAME_A_FUNCTION = ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping")

_taught = False


def teach_moto() -> None:
    """Register ``AWS::Lambda::Alias`` with moto's CloudFormation and give its
    ``AWS::Lambda::Version`` the ``Version`` attribute (idempotent)."""
    global _taught
    if _taught:
        return
    from moto.awslambda.models import LambdaVersion, lambda_backends
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel

    class LambdaAliasResource(CloudFormationModel):
        """An alias created by moto's CloudFormation through moto's Lambda ``CreateAlias``."""

        def __init__(self, arn: str) -> None:
            self.arn = arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return ALIAS

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> LambdaAliasResource:
            props = cloudformation_json["Properties"]
            backend = lambda_backends[account_id][region_name]
            function = backend.get_function(props["FunctionName"])
            alias = backend.create_alias(
                props["Name"],
                function.function_name,
                str(props["FunctionVersion"]),
                props.get("Description", ""),
                props.get("RoutingConfig"),
            )
            return cls(alias.arn)

        @property
        def physical_resource_id(self) -> str:
            return self.arn  # Ref of an alias is its ARN

        def get_cfn_attribute(self, attribute_name: str) -> str:
            if attribute_name == "AliasArn":
                return self.arn
            raise NotImplementedError(f'"{attribute_name}" is not an attribute of {{0}}')

    def version_attribute(self: Any, attribute_name: str) -> str:
        if attribute_name == "Version":
            return str(self.version)
        raise NotImplementedError(f'"{attribute_name}" is not an attribute of {{0}}')

    LambdaVersion.get_cfn_attribute = version_attribute  # type: ignore[attr-defined]
    assert LambdaAliasResource in CloudFormationModel.__subclasses__()
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    _taught = True


def aliases(rehearsal: Rehearsal) -> dict[str, str]:
    """Alias logical id -> the logical id of its function, in the translation."""
    found = {}
    for logical, spec in rehearsal.translated_of(ALIAS).items():
        function = spec["Properties"]["FunctionName"]
        if isinstance(function, dict) and "Ref" in function:
            found[logical] = str(function["Ref"])
    return found


def function_of(rehearsal: Rehearsal, logical: str) -> str:
    """The function a logical id invokes: itself, or the function of an alias."""
    return aliases(rehearsal).get(logical, logical)


def check_versions(rehearsal: Rehearsal) -> None:
    """Every function: an alias on a version published from the packaged code, SnapStart as the
    parameter asks, and every event source naming the alias."""
    lambda_ = rehearsal.client("lambda")
    by_function = {function: alias for alias, function in aliases(rehearsal).items()}
    snapstart = str(rehearsal.parameter_values().get("SnapStart", "Off"))
    conditions = rehearsal.conditions()
    for logical, spec in rehearsal.translated_of("AWS::Lambda::Function").items():
        alias = by_function.get(logical)
        if not rehearsal.check("versions", f"{logical} alias", alias is not None, "AutoPublishAlias"):
            continue
        _check_alias(rehearsal, lambda_, logical, str(alias))
        apply_on = _resolved_if(spec["Properties"].get("SnapStart", {}).get("ApplyOn", "None"), conditions)
        wanted = "PublishedVersions" if snapstart == "On" else "None"
        rehearsal.check(
            "versions",
            f"{logical} SnapStart",
            apply_on == wanted,
            f"ApplyOn {apply_on} with SnapStart={snapstart} (translation: moto's Lambda keeps no SnapStart)",
        )
    _check_event_sources(rehearsal, set(by_function))


def _check_alias(rehearsal: Rehearsal, lambda_: Any, logical: str, alias: str) -> None:
    physical = rehearsal.physical[logical]
    name = rehearsal.translated["Resources"][alias]["Properties"]["Name"]
    try:
        found = lambda_.get_alias(FunctionName=physical, Name=name)
    except Exception as error:  # noqa: BLE001 - moto's ResourceNotFound
        rehearsal.check("versions", f"{logical} alias {name}", False, str(error))
        return
    version = found["FunctionVersion"]
    latest = lambda_.get_function(FunctionName=physical)["Configuration"]
    published = lambda_.get_function(FunctionName=physical, Qualifier=version)["Configuration"]
    rehearsal.check(
        "versions",
        f"{logical} alias {name}",
        version != "$LATEST"
        and found["AliasArn"] == rehearsal.physical[alias]
        and published.get("CodeSha256") == latest.get("CodeSha256")
        and published.get("Handler") == latest.get("Handler"),
        f"-> version {version}, published from the packaged code",
    )


def _resolved_if(value: Any, conditions: dict[str, bool]) -> Any:
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        condition, when_true, when_false = value["Fn::If"]
        return _resolved_if(when_true if conditions.get(condition) else when_false, conditions)
    return value


def _check_event_sources(rehearsal: Rehearsal, functions: set[str]) -> None:
    """No route, mapping, schedule or permission names a function past its alias."""
    for kind in EVENT_SOURCES:
        for logical, spec in rehearsal.translated_of(kind).items():
            named = _references(spec.get("Properties", {}))
            bypassing = sorted(named & functions)
            if kind in NAME_A_FUNCTION or bypassing:
                rehearsal.check(
                    "versions",
                    f"{logical} invokes an alias",
                    not bypassing and bool(named & set(aliases(rehearsal))),
                    f"names {sorted(named)}" + (f"; bypasses the alias of {bypassing}" if bypassing else ""),
                )


def _references(node: Any) -> set[str]:
    """Logical ids a property tree refers to (``Ref``, ``Fn::GetAtt``, ``${...}`` in ``Fn::Sub``)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {name.split(".", 1)[0] for name in _substitutions(str(text))}
                if isinstance(value, list) and len(value) > 1:
                    found |= _references(value[1])
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for value in node:
            found |= _references(value)
    return found


def _substitutions(text: str) -> list[str]:
    return re.findall(r"\$\{([^!}][^}]*)\}", text)
