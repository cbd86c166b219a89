"""The checkpoint rule (亮码核验): a person's level and a temperature reading → what staff do.

Where the verdict is decided
    :func:`judge` takes the person's *current* canonical level (from the colour engine, never
    from the code: a code signed while green must not pass someone who has since turned red),
    the temperature measured at the checkpoint (or None when none was taken) and the province
    :class:`~healthcode.rules.policy.Policy`, and returns a :class:`CheckpointVerdict`:

    * the verdict is ``policy.verdict(level)``: by default green passes, yellow is dissuaded
      (劝阻, told to report to their community), red is isolated (临时隔离, the authority
      notified); Fujian maps orange to ``register`` (核验人员记录其身份信息后按规定处置);
    * a temperature at or above ``policy.fever_threshold_c`` (37.3 °C by default) never passes:
      a verdict that would have been ``pass`` becomes ``policy.fever_verdict``; a stricter
      verdict the level already gave stands;
    * the scan is *abnormal* when the level is not green or the reading is a fever (Fujian's
      异常提醒: 健康码为橙码或体温异常时) — abnormal scans are flagged for the venue's alerts
      and the official side.

    Pure: no storage, no clock, no AWS.

Temperatures
    A reading from a request is checked by ``healthcode.rules.forms.check_temperature`` (34 to
    43 °C, ``invalid_temperature``), re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.rules.forms import TEMPERATURE_MAX as MAX_TEMPERATURE_C
from healthcode.rules.forms import TEMPERATURE_MIN as MIN_TEMPERATURE_C
from healthcode.rules.forms import check_temperature
from healthcode.rules.policy import Policy, RiskLevel

__all__ = [
    "MAX_TEMPERATURE_C",
    "MIN_TEMPERATURE_C",
    "CheckpointVerdict",
    "check_temperature",
    "is_fever",
    "judge",
]

_GOES_THROUGH = "pass"  # the one verdict that lets a person in


@dataclass(frozen=True, slots=True)
class CheckpointVerdict:
    """What a checkpoint scan decided: the level and colour it saw, the verdict, and whether
    the scan is abnormal (non-green or fever) and whether the reading was a fever."""

    level: RiskLevel
    colour: str
    verdict: str
    fever: bool
    abnormal: bool


def is_fever(temperature: float | None, policy: Policy) -> bool:
    """Whether a reading counts as a fever: at or above ``policy.fever_threshold_c``."""
    return temperature is not None and temperature >= policy.fever_threshold_c


def judge(level: RiskLevel, temperature: float | None, policy: Policy) -> CheckpointVerdict:
    """The verdict for a person at ``level`` with this reading, under the province's policy."""
    level = RiskLevel(level)
    fever = is_fever(temperature, policy)
    verdict = policy.verdict(level)
    if fever and verdict == _GOES_THROUGH:
        verdict = policy.fever_verdict
    return CheckpointVerdict(
        level=level,
        colour=policy.colour(level),
        verdict=verdict,
        fever=fever,
        abnormal=fever or level != RiskLevel.GREEN,
    )
