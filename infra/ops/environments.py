"""The deploy environments of samconfig.toml, one per province: stack name, region, parameter
values, tags and capabilities, as ``sam deploy --config-env <name>`` reads them."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "samconfig.toml"


@dataclass(frozen=True)
class Environment:
    name: str
    stack_name: str
    region: str
    parameters: dict[str, str]
    tags: dict[str, str]
    capabilities: tuple[str, ...]
    confirm_changeset: bool


def read_pairs(value: Any) -> dict[str, str]:
    """``"A=1 B='x y'"`` (or a list of ``A=1``) as samconfig's parameter_overrides and tags."""
    items = value if isinstance(value, list) else shlex.split(str(value or ""))
    pairs = {}
    for item in items:
        if item.startswith("ParameterKey="):
            found = re.fullmatch(r"ParameterKey=([^,]+),ParameterValue=(.*)", item, re.DOTALL)
            if not found:
                raise ValueError(f"cannot read {item!r}")
            name, text = found.groups()
        else:
            name, sep, text = item.partition("=")
            if not sep or not name:
                raise ValueError(f"expected NAME=VALUE, got {item!r}")
        pairs[name] = text
    return pairs


def environments(config: Path = DEFAULT_CONFIG) -> list[str]:
    document = tomllib.loads(config.read_text(encoding="utf-8"))
    return [name for name, section in document.items() if isinstance(section, dict) and "deploy" in section]


def load_environment(name: str, config: Path = DEFAULT_CONFIG) -> Environment:
    document = tomllib.loads(config.read_text(encoding="utf-8"))
    section = document.get(name)
    if not isinstance(section, dict) or "deploy" not in section:
        raise KeyError(f"{config.name} has no [{name}.deploy.parameters]")
    deploy = {
        **document.get("default", {}).get("deploy", {}).get("parameters", {}),
        **section["deploy"]["parameters"],
    }
    region = deploy.get("region") or section.get("global", {}).get("parameters", {}).get("region")
    region = region or document.get("default", {}).get("global", {}).get("parameters", {}).get("region")
    capabilities = deploy.get("capabilities", [])
    return Environment(
        name=name,
        stack_name=str(deploy["stack_name"]),
        region=str(region),
        parameters=read_pairs(deploy.get("parameter_overrides", "")),
        tags=read_pairs(deploy.get("tags", "")),
        capabilities=tuple(capabilities if isinstance(capabilities, list) else str(capabilities).split()),
        confirm_changeset=bool(deploy.get("confirm_changeset", False)),
    )
