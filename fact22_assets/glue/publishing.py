"""Write-audit-publish for the DuckDB warehouse.

Every run writes the *build* file; only the publish step, after every
blocking check upstream of it has passed, replaces the *published* file
that analysts open.  The swap is one ``os.replace`` of a complete copy, so
a reader sees the old file or the new one, never a half-written one, and a
refresh killed at any moment leaves the published file as it was.  Readers
never lock the build file, so they cannot block a refresh either.
"""
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from fact22_assets.core.files import copy_atomically


class BuildDuckDBResource(DuckDBResource):
    """The build warehouse.  A build file that does not exist yet starts as a
    copy of the published one, so that a partial run (one asset, a rerun)
    builds on what is published rather than on nothing."""

    published: str = Field(description="Path of the published warehouse analysts read.")

    @contextmanager
    def get_connection(self):
        build = Path(self.database)
        if not build.exists():
            build.parent.mkdir(parents=True, exist_ok=True)
            published = Path(self.published)
            if published.exists():
                copy_atomically(published, build)
        with super().get_connection() as con:
            yield con


def publish_file(build: Path, published: Path) -> None:
    """Checkpoint the build (so the file holds everything) and swap it in."""
    con = duckdb.connect(str(build))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    published.parent.mkdir(parents=True, exist_ok=True)
    copy_atomically(build, published)
