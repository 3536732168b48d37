"""The strand-1 package says what it holds: every module is listed in its docstring."""

import pkgutil
import re

import fact22_assets.core.did as did


def test_every_module_is_listed():
    modules = {m.name for m in pkgutil.iter_modules(did.__path__)}
    listed = set(re.findall(r"^- ([a-z_, ]+):", did.__doc__, flags=re.M))
    listed = {name.strip() for entry in listed for name in entry.split(",")}
    assert modules == listed, (sorted(modules - listed), sorted(listed - modules))
