"""What a build says in the terminal: one line per stage as it completes and
a summary at the end.  Plain bookkeeping over asset and check names; the
Dagster events are translated to these calls in fact22_assets.build."""
from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 110


def shorten(text: str, width: int = WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass
class Stage:
    name: str
    assets: set[str]
    checks: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    evaluated: set[str] = field(default_factory=set)
    checks_passed: int = 0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reported: bool = False

    def line(self, elapsed: float) -> str:
        checks = f"{plural(self.checks_passed, 'check')} passed"
        if self.warnings:
            checks += f", {plural(len(self.warnings), 'warning')}"
        if self.errors:
            checks += f", {len(self.errors)} FAILED"
        mark = "ok " if not self.errors else "ERR"
        return f"  {mark} {self.name:<10} {len(self.done):>3} of {len(self.assets):<3} assets  {checks:<40} {elapsed:6.1f} s"


class Progress:
    """Stages (Dagster asset groups), each reported once all its assets are
    materialised and all its checks evaluated.  ``groups`` maps an asset to
    its group, ``checks`` the checks ("asset:check") the run will evaluate."""

    def __init__(self, groups: dict[str, str], checks: list[str] | tuple[str, ...] = ()):
        self.group_of = dict(groups)
        self.stages: dict[str, Stage] = {}
        for asset, group in groups.items():
            self.stages.setdefault(group, Stage(group, set())).assets.add(asset)
        for check in checks:
            stage = self.stages.get(self.group_of.get(check.split(":")[0], ""))
            if stage:
                stage.checks.add(check)
        self.failures: list[str] = []

    def _complete(self, stage: Stage | None, elapsed: float) -> list[str]:
        if stage and not stage.reported and stage.done >= stage.assets and stage.evaluated >= stage.checks:
            stage.reported = True
            return [stage.line(elapsed)]
        return []

    def materialised(self, asset: str, elapsed: float) -> list[str]:
        stage = self.stages.get(self.group_of.get(asset, ""))
        if stage:
            stage.done.add(asset)
        return self._complete(stage, elapsed)

    def checked(self, asset: str, check: str, passed: bool, blocking: bool, description: str = "",
                elapsed: float = 0.0) -> list[str]:
        stage = self.stages.get(self.group_of.get(asset, ""))
        name = f"{asset}:{check}"
        lines = []
        if passed:
            if stage:
                stage.checks_passed += 1
        else:
            said = f"{name} {description}".strip()
            if stage:
                (stage.errors if blocking else stage.warnings).append(said)
            if blocking:
                self.failures.append(f"check {said}")
                lines.append(f"  FAILED check {shorten(said)}")
        if stage:
            stage.evaluated.add(name)
        return lines + self._complete(stage, elapsed)

    def step_failed(self, step: str, message: str) -> list[str]:
        self.failures.append(f"step {step}: {message}")
        return [f"  FAILED step {step}: {shorten(message)}"]

    def unfinished(self) -> list[str]:
        """Stages that never completed (a failure upstream skipped their assets)."""
        return [f"  --  {s.name:<10} {len(s.done):>3} of {len(s.assets):<3} assets  not built: "
                f"{shorten(', '.join(sorted(s.assets - s.done)), 60)}"
                for s in self.stages.values() if not s.reported]

    def totals(self) -> tuple[int, int, int, int, int]:
        """(assets materialised, assets, checks passed, warnings, failed checks)."""
        stages = self.stages.values()
        return (sum(len(s.done) for s in stages), sum(len(s.assets) for s in stages),
                sum(s.checks_passed for s in stages), sum(len(s.warnings) for s in stages),
                sum(len(s.errors) for s in stages))

    def warnings(self) -> list[str]:
        return [w for s in self.stages.values() for w in s.warnings]
