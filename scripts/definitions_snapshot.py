"""Print what the code location defines, as JSON: to compare two commits' definitions after a refactoring.

Every asset (key, group, owners, description, metadata, tags, kinds, code version, dependencies, whether it
is materializable), every asset check (key, blocking, description, metadata), job, schedule, sensor and
resource key.  A change that only moves imports or how the Definitions object is put together must leave
this output identical:

    python scripts/definitions_snapshot.py > before.json   # on one commit
    python scripts/definitions_snapshot.py > after.json    # on the other
    diff before.json after.json
"""
from __future__ import annotations

import json

from fact22_assets.definitions import defs


def _text(value) -> str:
    """Metadata values as text: their repr names the type and every field (paths, table schemas, SQL)."""
    return repr(value)


def snapshot() -> dict:
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name, "owners": list(node.owners), "description": node.description,
            "metadata": {k: _text(v) for k, v in sorted(node.metadata.items())},
            "tags": dict(sorted(node.tags.items())), "kinds": sorted(node.kinds),
            "code_version": node.code_version, "materializable": node.is_materializable,
            "observable": node.is_observable, "parents": sorted(p.to_user_string() for p in node.parent_keys),
            "automation": repr(node.automation_condition), "partitions": repr(node.partitions_def),
            "checks": sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in node.check_keys),
        }
    checks = {}
    for key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(key)
        checks[f"{key.asset_key.to_user_string()}:{key.name}"] = {
            "blocking": spec.blocking, "description": spec.description,
            "metadata": {k: _text(v) for k, v in sorted((spec.metadata or {}).items())},
            "additional_deps": sorted(d.asset_key.to_user_string() for d in spec.additional_deps or []),
        }
    repository = definitions.get_repository_def()
    return {
        "assets": assets, "checks": checks,
        "jobs": sorted(job.name for job in repository.get_all_jobs()),
        "schedules": sorted((s.name, s.cron_schedule, s.job_name) for s in repository.schedule_defs),
        "sensors": sorted((s.name, type(s).__name__, s.sensor_type.value, repr(s.asset_selection),
                           sorted(t.job_name for t in s.targets)) for s in repository.sensor_defs),
        "resources": sorted(repository.get_top_level_resources()),
        "executor": repository.get_job(sorted(job.name for job in repository.get_all_jobs())[0]).executor_def.name,
    }


if __name__ == "__main__":
    print(json.dumps(snapshot(), indent=1, sort_keys=True, default=str))
