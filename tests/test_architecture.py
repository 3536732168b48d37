"""The package's layers: drawn from the imports, and no import points up."""
import runpy
from collections import Counter

from fact22_assets.settings import REPO_ROOT

SCRIPT = runpy.run_path(str(REPO_ROOT / "scripts" / "draw_architecture.py"))


def test_no_import_points_up_the_layers_and_the_diagram_is_current():
    assert SCRIPT["main"](["--check"]) == 0


def test_an_upward_import_is_reported():
    edges = Counter({("glue", "core"): 3, ("core", "glue"): 1, ("defs", "lifecycle"): 1})
    assert SCRIPT["upward"](edges) == ["core -> glue", "defs -> lifecycle"]


def test_the_core_knows_nothing_of_dagster():
    for path in (REPO_ROOT / "fact22_assets" / "core").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import dagster" not in text and "from dagster" not in text, path
