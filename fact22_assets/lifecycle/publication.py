"""The publish step of write-audit-publish, and what it records."""
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml

from fact22_assets.core.files import copy_atomically
from fact22_assets.core.landing import ACCEPTED_CATALOGUE, accepted_entries
from fact22_assets.glue.publishing import BuildDuckDBResource, publish_file
from fact22_assets.glue.resources import SourcesResource
from fact22_assets.glue.tables import replace_table, table_metadata
from fact22_assets.settings import code_version


def _accept(candidates, accepted: Path, landing: Path) -> list[str]:
    """Move published landing files into the accepted store and catalogue them."""
    if not candidates:
        return []
    stored = {}
    for source in candidates:
        target = accepted / source.release.release_id / source.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_atomically(source.path, target)
        stored[source.source_id] = str(target.relative_to(accepted.parent))
    catalogue = accepted / ACCEPTED_CATALOGUE
    previous = yaml.safe_load(catalogue.read_text(encoding="utf-8")) if catalogue.exists() else None
    partial = catalogue.with_suffix(".partial")
    partial.write_text(yaml.safe_dump(accepted_entries(candidates, stored, previous), sort_keys=False),
                       encoding="utf-8")
    partial.replace(catalogue)
    for source in candidates:
        source.path.unlink(missing_ok=True)
    return sorted(stored.values())


def publication_definitions(tables: list[dg.AssetKey]) -> dg.Definitions:
    """The publish step, downstream of every table asset in ``tables`` (derived from the graph):
    it runs only when all of them and their blocking checks succeeded in the run."""

    @dg.asset(key=["meta", "publication"], group_name="publish", kinds={"duckdb"},
              deps=tables,
              description="Publishes the build: runs only when every upstream asset and blocking check succeeded in "
                          "the run, records the publication (vintage, releases, code version) in meta.publication "
                          "(history kept), swaps the validated build file in for the published one in one atomic "
                          "step, and files the landing folder's new files under the accepted releases.")
    def meta_publication(context: dg.AssetExecutionContext, duckdb: BuildDuckDBResource,
                         sources: SourcesResource) -> dg.MaterializeResult:
        catalogue, candidates = sources.full_catalogue()
        published = Path(duckdb.published)
        with duckdb.get_connection() as con:
            vintage = con.execute("SELECT max_by(vintage, vintage_rank) FROM marts.cin_rates_vintages").fetchone()[0]
            history = pd.DataFrame()
            if published.exists():
                con.execute("ATTACH ? AS published_before (READ_ONLY)", [str(published)])
                try:
                    known = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'published_before' "
                                        "AND schema_name = 'meta' AND table_name = 'publication'").fetchone()[0]
                    if known:
                        history = con.execute("SELECT * FROM published_before.meta.publication").df()
                finally:
                    con.execute("DETACH published_before")
            entry = pd.DataFrame([{
                "published_at": datetime.now(UTC).replace(tzinfo=None),
                "run_id": context.run.run_id,
                "vintage": vintage,
                "releases": ", ".join(sorted(catalogue.releases)),
                "source_files": len(catalogue.sources),
                "landed_files": ", ".join(s.path.name for s in candidates) or None,
                "code_version": code_version(),
            }])
            log = pd.concat([history, entry], ignore_index=True) if not history.empty else entry
            replace_table(con, "meta.publication", log)
            metadata = table_metadata(con, "meta.publication")
        publish_file(Path(duckdb.database), published)
        accepted = _accept(candidates, Path(sources.accepted_dir), Path(sources.landing_dir))
        context.log.info(f"published {published} (vintage {vintage}); accepted {len(accepted)} landed file(s)")
        return dg.MaterializeResult(metadata={**metadata, "vintage": dg.MetadataValue.text(str(vintage)),
                                              "published_file": dg.MetadataValue.path(str(published)),
                                              "accepted_files": dg.MetadataValue.json(accepted)})

    return dg.Definitions(assets=[meta_publication])
