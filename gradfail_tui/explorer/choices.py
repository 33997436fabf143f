"""What the setup forms ask to run, validated: the messages RunRequested and GroupRequested carry these."""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import BaseConfig
from engine.groups import GroupPreset, MemberRun


@dataclass(frozen=True)
class RunChoice:
    """What the form says to run, validated."""

    family: str
    config: BaseConfig
    seed: int
    device: str
    preset: str | None  # only when the values are exactly the preset's
    label: str


@dataclass(frozen=True)
class GroupChoice:
    """What the group form says to run, resolved."""

    group: GroupPreset
    scale: str
    members: list[MemberRun]
    device: str
