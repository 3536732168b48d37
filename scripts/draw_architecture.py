"""Draw the package's layers from its imports: ``python scripts/draw_architecture.py``.

Reads every module of fact22_assets with `ast`, keeps the imports between
the package's own modules, groups modules into layers and writes a Mermaid
diagram (layer -> layer, with how many imports each arrow stands for) into
docs/architecture.md between the markers.  With ``--check`` it writes
nothing and exits 1 if an import points up the layers (core must not import
glue, glue must not import defs or lifecycle, nothing imports definitions),
or if docs/architecture.md is not what the code gives.
"""
from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fact22_assets"
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- architecture:begin -->", "<!-- architecture:end -->"
# Lower layers first; an import may only point to the same or an earlier layer.
LAYERS = ["settings", "core", "glue", "defs", "lifecycle", "definitions", "build", "calibrate"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "package"


def imports(path: Path) -> set[str]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("fact22_assets"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("fact22_assets"))
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {t for t in found if t in modules and t != name}


def layer_edges() -> Counter:
    edges = Counter()
    for path in sorted(PACKAGE.rglob("*.py")):
        source = layer(module_name(path))
        for target in imports(path):
            if layer(target) != source and layer(target) != "package":
                edges[(source, layer(target))] += 1
    return edges


def upward(edges: Counter) -> list[str]:
    rank = {name: i for i, name in enumerate(LAYERS)}
    return [f"{a} -> {b}" for (a, b) in edges if rank.get(b, -1) > rank.get(a, -1)]


def diagram(edges: Counter) -> str:
    lines = ["```mermaid", "flowchart BT"]
    for name in LAYERS:
        lines.append(f"    {name}[{name}]")
    for (a, b), n in sorted(edges.items(), key=lambda item: (LAYERS.index(item[0][0]), LAYERS.index(item[0][1]))):
        lines.append(f"    {a} -->|{n}| {b}")
    lines.append("```")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    edges = layer_edges()
    wrong = upward(edges)
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    drawn = f"{head}{BEGIN}\n{diagram(edges)}\n{END}{tail}"
    if args.check:
        for line in wrong:
            print(f"import points up the layers: {line}", file=sys.stderr)
        if drawn != text:
            print("docs/architecture.md is out of date: run python scripts/draw_architecture.py", file=sys.stderr)
        return 1 if wrong or drawn != text else 0
    DOC.write_text(drawn, encoding="utf-8")
    for line in wrong:
        print(f"import points up the layers: {line}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
