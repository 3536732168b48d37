"""Every trial's census returns, read, checked and pseudonymised into the restricted tables.

A council's returns are read from the casework folder as data/trials.yaml
lists them. A SYNTHETIC trial's returns are generated first (deterministic,
core/census/synthetic.py) into a folder beside the restricted file and then
read exactly as a council's are: DfE's schema, the header, DfE's rules.
Two trials in one authority share its returns (read once).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from fact22_assets.core import helper_process

from . import rules, xsd
from .config import Trial
from .returns import CensusReturnError, Finding, pseudonymised, read_return
from .synthetic import TARGETS_FILE, History, generate_history, write_returns

TABLES = ("children", "episodes", "assessments", "cin_plans", "section47", "cp_plans")


@dataclass(frozen=True)
class ReturnToRead:
    authority_code: str
    lea: str
    collection_year: int
    path: Path
    data_origin: str


def synthetic_returns(trial: Trial, lea: str, casework: Path, census_dir: Path, out_dir: Path) -> dict[int, Path]:
    """Generate a SYNTHETIC trial's returns: its children's histories (``census.synthetic.histories``) inside an
    invented census of its authority whose totals are DfE's published ones (``census_targets.csv``)."""
    from ..casework.standin import read_census_seed

    targets = pd.read_csv(casework / TARGETS_FILE, dtype={"la_code": str})
    targets = targets[targets["authority_code"] == trial.authority_code]
    seed = read_census_seed(casework / trial.synthetic_histories)
    history = generate_history(trial.child_id_prefix, list(trial.collection_years), targets, trial.synthetic_seed,
                               History(seed["children"], seed["episodes"], seed["plans"]))
    catalogue = xsd.load_catalogue(census_dir)
    # Returns from 2021-22 record CIN plans: a year whose schema has them gets them.
    with_plans = {y: b"CINPlanDates" in catalogue[y].path.read_bytes() for y in trial.collection_years if y in catalogue}
    return write_returns(history, list(trial.collection_years), lea, out_dir, with_plans)


def returns_to_read(trials: list[Trial], leas: dict[str, str], casework: Path, census_dir: Path,
                    synthetic_dir: Path) -> list[ReturnToRead]:
    """Each (authority, collection year) return once, generating the SYNTHETIC ones."""
    found: dict[tuple[str, int], ReturnToRead] = {}
    for trial in trials:
        if trial.authority_code not in leas:
            raise CensusReturnError([Finding("data/trials.yaml", "authority", f"{trial.authority_code} (trial "
                                             f"{trial.trial_id}) is not a children's-services authority of the "
                                             "authority lookup")])
        lea = leas[trial.authority_code]
        if trial.synthetic:
            paths = synthetic_returns(trial, lea, casework, census_dir, synthetic_dir / trial.trial_id)
        else:
            paths = {r.collection_year: casework / r.file for r in trial.returns}
        for year, path in paths.items():
            key = (trial.authority_code, year)
            if key in found and found[key].path != path:
                raise CensusReturnError([Finding(str(path), "collection year", f"{trial.authority_code} has two "
                                                 f"returns for {year}: {found[key].path} and {path}")])
            found[key] = ReturnToRead(trial.authority_code, lea, year, path, trial.data_origin)
    return sorted(found.values(), key=lambda r: (r.authority_code, r.collection_year))


def read_all(to_read: list[ReturnToRead], census_dir: Path, pseudonym) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The restricted census tables (every return stacked, with authority_code, collection_year, source_file,
    source_sha256, data_origin) and one row per return. Refuses the first return that breaks the schema, the
    header or DfE's rules, naming file, line, child, element and rule; nothing is returned then."""
    stacked: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    returns = []
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    # Every other return is read in the build's helper process (on the other core) while this one reads the
    # rest; the first return refused, in order, is the one named, as when read one by one.
    read = helper_process.call_all([(read_return, (item.path, item.collection_year, item.lea, census_dir),
                                     {"rules": rules.findings}) for item in to_read])
    for item, census in zip(to_read, read):
        census = pseudonymised(census, pseudonym)
        for name, frame in census.tables.items():
            # codes were categories while reading (a national return's memory); stored as plain text
            frame = frame.astype({c: "object" for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})
            stacked[name].append(frame.assign(authority_code=item.authority_code, collection_year=item.collection_year,
                                              source_file=census.file, source_sha256=census.sha256,
                                              data_origin=item.data_origin))
        returns.append({"authority_code": item.authority_code, "la_code": item.lea,
                        "collection_year": item.collection_year, "source_file": census.file,
                        "source_sha256": census.sha256, "schema": census.schema,
                        "software_code": census.software_code, "n_children": census.n_children,
                        "n_episodes": len(census.tables["episodes"]), "data_origin": item.data_origin,
                        "loaded_at": loaded_at})
    tables = {}
    for name, frames in stacked.items():
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if len(frame):
            front = ["authority_code", "collection_year", "child_key"]
            frame = frame[[*front, *[c for c in frame.columns if c not in front]]]
        tables[name] = frame
    return tables, pd.DataFrame(returns)
