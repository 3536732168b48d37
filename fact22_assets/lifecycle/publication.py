"""The publish step of write-audit-publish, and what it records.

It publishes only a build whose audit passed (``core/audit.py``): the run
materialised every asset downstream of every source that changed since the
last publication (the refresh plan's closure; everything when the plan cannot
tell), and every blocking check of every asset it built was evaluated in it
and passed.  The check results of this very run are written into the build
(``meta.audit``).  A smaller selection (a UI "Materialize" of a few assets)
builds into its own folder and is refused here, naming the assets it lacks;
the filing of landed files as accepted applies the same rule."""
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from fact22_assets.core.audit import RunAudit, require_publishable
from fact22_assets.core.catalogue import file_sha256
from fact22_assets.core.errors import InfrastructureError
from fact22_assets.core.files import write_atomically
from fact22_assets.core.landing import accept_landed, landing_files
from fact22_assets.glue.freshness import current_fingerprint, current_source_versions, refresh_plan
from fact22_assets.glue.publication_status import served_metadata
from fact22_assets.glue.publishing import BuildDuckDBResource, infrastructure_errors, publish_file, publish_outputs
from fact22_assets.glue.resources import SourcesResource
from fact22_assets.glue.sources import NOT_REFRESHED_GROUP, downstream_of
from fact22_assets.glue.tables import replace_table, table_metadata
from fact22_assets.settings import code_version, outputs_dir, publication_manifest_path

PUBLICATION = dg.AssetKey(["meta", "publication"])


def run_audit(context: dg.AssetExecutionContext, blocking: list[dg.AssetCheckKey],
              graph: Any) -> tuple[RunAudit, pd.DataFrame]:
    """What this run built and checked, against what the refresh plan says a publication needs, and the
    check evaluations as a table (one row per check, blocking ones flagged) for ``meta.audit``.

    The build started as a copy of the published file, whose own audit covered it; what the changed
    sources reach is new, so each asset downstream of them must have been materialised in this run and
    each blocking check of it evaluated in it and passed (a check left out of the selection is not a
    pass)."""
    run_id = context.run.run_id
    built = {r.dagster_event.asset_key for r in context.instance.all_logs(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)} - {context.asset_key}
    rows = {}
    for record in context.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        key = dg.AssetCheckKey(evaluation.asset_key, evaluation.check_name)
        rows[key] = {"asset": evaluation.asset_key.to_user_string(), "check_name": evaluation.check_name,
                     "passed": bool(evaluation.passed), "severity": evaluation.severity.value,
                     "description": evaluation.description}
    plan = refresh_plan()
    closure = downstream_of(graph, plan.sources)
    chosen = None if closure is None else set(closure)
    required = [k.to_user_string() for k in graph.toposorted_asset_keys
                if (chosen is None or k in chosen) and graph.get(k).is_materializable and k != PUBLICATION
                and graph.get(k).group_name != NOT_REFRESHED_GROUP]
    by_asset: dict[str, tuple[str, ...]] = {}
    for key in blocking:
        asset = key.asset_key.to_user_string()
        by_asset[asset] = (*by_asset.get(asset, ()), key.name)
    audit = RunAudit(required=tuple(required),
                     built=frozenset(k.to_user_string() for k in built), blocking=by_asset,
                     evaluations={f"{row['asset']}:{row['check_name']}": row["passed"] for row in rows.values()},
                     plan=plan.why)
    frame = pd.DataFrame([{**row, "blocking": key in set(blocking)} for key, row in rows.items()],
                         columns=["asset", "check_name", "passed", "severity", "description", "blocking"])
    return audit, frame


def publication_definitions(tables: list[dg.AssetKey], blocking: list[dg.AssetCheckKey],
                            asset_graph: Callable[[], Any]) -> dg.Definitions:
    """The publish step, downstream of every asset in ``tables`` (derived from the graph): it publishes
    only a run that built what the refresh plan's closure needs and passed its blocking checks
    (``blocking``).  ``asset_graph`` gives the whole graph once the Definitions are complete (a run of a
    few assets sees only their part of it)."""

    @dg.asset(key=["meta", "publication"], group_name="publish", kinds={"duckdb"},
              deps=tables,
              description="Publishes the build: verifies that every blocking check passed in this run (the audit, "
                          "kept in meta.audit), records the publication (vintage, releases, source sha256s, code "
                          "version) in meta.publication, swaps the validated build file and its figures and report "
                          "in for the published ones, and files the landing folder's new files under the accepted "
                          "releases.")
    def meta_publication(context: dg.AssetExecutionContext, duckdb: BuildDuckDBResource,
                         sources: SourcesResource) -> dg.MaterializeResult:
        audit, checked = run_audit(context, blocking, asset_graph())
        require_publishable(audit)
        started = duckdb.start_fingerprint
        now = current_fingerprint()
        if started is not None and started.inputs_digest != now.inputs_digest:
            changed = sorted(n for n in set(now.inputs) | set(started.inputs)
                             if now.inputs.get(n) != started.inputs.get(n))
            # Landed files are keyed by content; name the ones still in the landing folder.
            named = {f"landed/{file_sha256(path)}": f"landing/{path.name}"
                     for path in landing_files(sources.landing_folder)}
            changed = [named.get(n, n) for n in changed]
            raise InfrastructureError(f"input file(s) changed while the refresh ran: {', '.join(changed)}",
                                      "nothing was published; leave the files alone while a refresh runs - the "
                                      "next refresh checks them as they are now")
        # What the publication is built from, taken now: a file landing later is the next refresh's.
        versions = current_source_versions()
        catalogue, candidates = sources.full_catalogue()
        published = Path(duckdb.published)
        with duckdb.get_connection() as con:
            has_vintages = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts' "
                                       "AND table_name = 'cin_rates_vintages'").fetchone()[0]
            # A warehouse without the children-in-need marts (none built yet) has no vintage.
            vintage = con.execute("SELECT max_by(vintage, vintage_rank) FROM marts.cin_rates_vintages"
                                  ).fetchone()[0] if has_vintages else None
            checked.insert(0, "run_id", context.run.run_id)
            replace_table(con, "meta.audit", checked)
            # The build started as a copy of the published file, so its own log is the published history:
            # the published file is never opened, and no analyst's connection can stand in the way.
            known = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'meta' "
                                "AND table_name = 'publication'").fetchone()[0]
            history = con.execute("SELECT * FROM meta.publication").df() if known else pd.DataFrame()
            entry = pd.DataFrame([{
                "published_at": datetime.now(UTC).replace(tzinfo=None),
                "run_id": context.run.run_id,
                "vintage": vintage,
                "releases": ", ".join(sorted(catalogue.releases)),
                "source_files": len(catalogue.sources),
                "landed_files": ", ".join(s.path.name for s in candidates) or None,
                "code_version": code_version(),
                "inputs_sha256": now.inputs_digest,
                "code_sha256": now.code,
            }])
            repeat = (not history.empty and "inputs_sha256" in history
                      and history.iloc[-1]["inputs_sha256"] == now.inputs_digest
                      and history.iloc[-1]["code_sha256"] == now.code)
            # One row per publication: the same inputs and code published again (a rerun, or a run that
            # finished a publication killed after its swap) is the same publication.
            log = history if repeat else pd.concat([history, entry], ignore_index=True) if not history.empty \
                else entry
            replace_table(con, "meta.publication", log)
            metadata = table_metadata(con, "meta.publication")
        duckdb.close()
        publish_file(duckdb.build_file, published)
        outputs = publish_outputs(duckdb.outputs_dir, outputs_dir())
        duckdb.mark_published()
        with infrastructure_errors(f"the accepted releases folder {sources.accepted_dir}"):
            # The run's own copies, as checked; the originals go only if they still hold those bytes.
            filed = accept_landed(candidates, Path(sources.accepted_dir), audit, landing=sources.landing_folder)
            # Each source's data version, so that the next refresh rebuilds only downstream of those that change.
            write_atomically(publication_manifest_path(),
                             now.to_json(run_id=context.run.run_id, code_version=code_version(),
                                         sources=versions).encode())
        context.log.info(f"published {published} (vintage {vintage}) and {len(outputs)} output file(s); "
                         f"accepted {len(filed.stored)} landed file(s)")
        for name in filed.left:
            context.log.warning(f"{name} changed after this run copied and checked it: the checked copy was filed "
                                "and published; the new bytes stay in the landing folder for the next refresh")
        # The same inputs and code published again are the same publication: served since it was first made.
        served = served_metadata(log.iloc[-1].to_dict())
        return dg.MaterializeResult(metadata={**metadata, **served, "vintage": dg.MetadataValue.text(str(vintage)),
                                              "published_file": dg.MetadataValue.path(str(published)),
                                              "blocking_checks_passed": dg.MetadataValue.int(int(checked.blocking.sum())),
                                              "accepted_files": dg.MetadataValue.json(filed.stored),
                                              "left_in_landing": dg.MetadataValue.json(filed.left)})

    return dg.Definitions(assets=[meta_publication])
