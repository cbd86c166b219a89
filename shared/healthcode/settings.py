"""Deployment settings: read once from the template's environment variables, typed, fail fast.

Province *rules* are not here: they live in the province policy file (``healthcode.rules.policy``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from healthcode.rules.policy import Policy, load_policy


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed (a deployment mistake)."""


@dataclass(frozen=True)
class Settings:
    province: str
    retention_days: int
    stage: str

    @property
    def code_issuer(self) -> str:
        """``iss`` of every code this stack signs: the province, as the EU DCC uses the country."""
        return f"urn:healthcode:{self.province}"


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is required")
    return value


@cache
def settings() -> Settings:
    province = _required("PROVINCE")
    retention = os.environ.get("RETENTION_DAYS", "28")
    if not retention.isdigit() or not 1 <= int(retention) <= 3650:
        raise SettingsError("RETENTION_DAYS must be a whole number of days between 1 and 3650")
    return Settings(province=province, retention_days=int(retention), stage=os.environ.get("STAGE", "prod"))


def policy() -> Policy:
    """The stack's province policy (validated; raises PolicyError at first use if invalid)."""
    return load_policy(settings().province)


def env(name: str) -> str:
    """A required deployment value, e.g. a table or secret name the template passes in."""
    return _required(name)


def reset() -> None:
    settings.cache_clear()
    load_policy.cache_clear()
