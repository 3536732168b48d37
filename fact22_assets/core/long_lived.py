"""Objects made to last the whole process, kept out of the cyclic garbage collector's way.

Loading the definitions makes a few hundred thousand objects (Dagster's modules and ours, the op, asset and
check definitions) that live until the process ends.  Python's collector scans every live object in each full
collection, and the allocations of the load trigger several of them, then more at exit: about a third of the
load's CPU went to collections that found nothing to free.  `long_lived` pauses the collector while such
objects are made and then freezes them (`gc.freeze`): later collections, and the forked helper and DiD
workers, no longer scan them.  The price: a reference cycle that became garbage while paused is never
collected (about 1 MB for a load of the definitions).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:  # an enclosing `long_lived` turns it back on when it ends
            gc.enable()
