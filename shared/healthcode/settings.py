"""Deployment settings: read once from the template's environment variables, typed, fail fast.

Province *rules* are not here: they live in the province policy file (``healthcode.rules.policy``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache

from healthcode.rules.policy import Policy, load_policy

#: Where a poster's QR sends a phone: ``https://<code base>/v/<venue code>``. A host (with a port
#: at most), short enough that the poster's QR symbol stays at version 10 (level M, 213 bytes)
#: with a compact venue code of up to 184 characters (generations up to 9,999).
CODE_BASE_URL = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?")
MAX_CODE_BASE_URL_CHARS = 18
DEFAULT_CODE_BASE_URL = "hc.local"


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed (a deployment mistake)."""


@dataclass(frozen=True)
class Settings:
    province: str
    retention_days: int
    stage: str
    code_base_url: str = DEFAULT_CODE_BASE_URL

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
    code_base_url = os.environ.get("CODE_BASE_URL", "").strip() or DEFAULT_CODE_BASE_URL
    if len(code_base_url) > MAX_CODE_BASE_URL_CHARS or not CODE_BASE_URL.fullmatch(code_base_url):
        raise SettingsError(
            f"CODE_BASE_URL must be a lower-case host name (with a port at most) of at most "
            f"{MAX_CODE_BASE_URL_CHARS} characters: posters' QR symbols hold https://<it>/v/<code>"
        )
    return Settings(
        province=province,
        retention_days=int(retention),
        stage=os.environ.get("STAGE", "prod"),
        code_base_url=code_base_url,
    )


def policy() -> Policy:
    """The stack's province policy (validated; raises PolicyError at first use if invalid)."""
    return load_policy(settings().province)


def env(name: str) -> str:
    """A required deployment value, e.g. a table or secret name the template passes in."""
    return _required(name)


def reset() -> None:
    settings.cache_clear()
    load_policy.cache_clear()
