"""Whether a run may publish: the one rule that both the publish step and the
filing of landed files as accepted apply (``require_publishable``).

A run may publish only when it materialised every asset downstream of every
source whose version changed since the last publication (the refresh plan's
closure: everything, when the plan cannot tell what changed), and every
blocking check of every asset it built or had to build was evaluated in it
and passed.  A smaller selection (a few assets materialised in the UI, a
`dagster asset materialize --select ...`) builds into its own build folder and
stops there: publishing it would serve new raw rows under marts computed from
the old ones, and filing its landed files as accepted would tell every later
refresh that they had been checked.  No Dagster import here: the glue
gathers what the run did, this module decides.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Every refusal starts so; the run report tells it apart from a refusal of the data.
REFUSED = "publication refused"
# A run that did not build what its changed sources reach: the selection's fault, not the landed files'.
INCOMPLETE = f"{REFUSED}: this run did not rebuild"
_SHOWN = 8


class PublicationRefused(RuntimeError):
    """The run has not built and audited what a publication needs."""


@dataclass(frozen=True)
class RunAudit:
    """What one run built and checked, beside what a publication of it needs.

    Assets and checks are named as the UI shows them ("raw/cin_ees",
    "raw/cin_ees:raw_cin_ees_cells_valid")."""

    required: tuple[str, ...]                     # the refresh plan's closure, in data-flow order (no publication)
    built: frozenset[str]                         # assets materialised in this run
    blocking: Mapping[str, tuple[str, ...]]       # asset -> its blocking checks
    evaluations: Mapping[str, bool] = field(default_factory=dict)  # "asset:check" -> passed, in this run
    plan: str = ""                                # why the closure is what it is

    @property
    def missing(self) -> list[str]:
        """Assets the closure needs that this run did not materialise, nearest the sources first."""
        return [a for a in self.required if a not in self.built]

    def _blocking_of(self, assets) -> list[str]:
        return sorted(f"{asset}:{check}" for asset in assets for check in self.blocking.get(asset, ()))

    @property
    def not_run(self) -> list[str]:
        """Blocking checks of built or required assets that were not evaluated in this run."""
        return [c for c in self._blocking_of(self.built | set(self.required)) if c not in self.evaluations]

    @property
    def failed(self) -> list[str]:
        return [c for c in self._blocking_of(self.built | set(self.required)) if self.evaluations.get(c) is False]

    def refusal(self) -> str | None:
        """Why this run may not publish, or None when it may."""
        if not self.built:
            return (f"{REFUSED}: nothing was built and audited in this run, so there is nothing to publish - "
                    "run the refresh job (make warehouse, or the job `refresh` in the UI), not meta/publication "
                    "alone")
        if self.missing:
            return (f"{INCOMPLETE} all that this refresh must rebuild ({self.plan}): {len(self.missing)} of "
                    f"the {len(self.required)} assets it must rebuild were not materialised in it: "
                    f"{_names(self.missing)}. Nothing was published and no landed file was filed; the build stays "
                    "in its own folder. Run the refresh job (make warehouse, or the job `refresh` in the UI), "
                    "which selects them all")
        if self.failed or self.not_run:
            return (f"{REFUSED}: the build has not passed its audit in this run "
                    + (f"({len(self.failed)} blocking check(s) failed: {_names(self.failed)}) " if self.failed else "")
                    + (f"({len(self.not_run)} blocking check(s) of assets built in this run were not run, e.g. "
                       f"{_names(self.not_run)}) " if self.not_run else "")
                    + "- materialise assets together with their checks, or run the refresh job")
        return None


def require_publishable(audit: RunAudit | None) -> None:
    """Raise PublicationRefused unless ``audit`` shows a run that may publish (None: no audit at all)."""
    if audit is None:
        raise PublicationRefused(f"{REFUSED}: no audit of the run was given")
    reason = audit.refusal()
    if reason is not None:
        raise PublicationRefused(reason)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
