"""The rehearsal's findings: one check per thing looked at, and what was done outside
CloudFormation; rendered for the terminal."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    area: str
    subject: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    environment: str
    stack_name: str
    region: str
    checks: list[Check] = field(default_factory=list)
    #: what was done instead of CloudFormation -> the resources it was done for
    outside: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def passed(self, area: str) -> list[Check]:
        return [check for check in self.checks if check.area == area and check.ok]

    def render(self, verbose: bool = False) -> str:
        lines = [f"rehearsal of {self.environment}: stack {self.stack_name} in {self.region} (moto)"]
        areas: dict[str, list[Check]] = {}
        for check in self.checks:
            areas.setdefault(check.area, []).append(check)
        for area, checks in areas.items():
            failed = [c for c in checks if not c.ok]
            lines.append(f"  {area:<12} {len(checks) - len(failed):>3}/{len(checks)} ok")
            for check in checks if verbose else failed:
                mark = "ok  " if check.ok else "FAIL"
                lines.append(f"      {mark} {check.subject}: {check.detail}".rstrip(": "))
        if self.outside:
            lines.append("  not created by moto's CloudFormation, and what was done instead:")
            for how, logical_ids in self.outside.items():
                names = ", ".join(logical_ids) if len(logical_ids) <= 3 else f"{len(logical_ids)} resources"
                lines.append(f"      - {how} ({names})")
        verdict = "PASSED" if self.ok else f"FAILED ({len(self.failures())} checks)"
        lines.append(f"  {verdict}: {len(self.checks)} checks in {self.seconds:.1f} s")
        return "\n".join(lines)
