"""Run a song render in a fresh child process, so the same request always gives the same bytes.

espeak-ng keeps hidden state from one utterance to the next inside the library: the pitch
flutter of most voices is a table read at a position that only ever advances (a C static,
never reset), and voices with echo carry the previous utterance's tail. So the same word
comes out slightly different depending on everything synthesised before in the process,
and a song rendered after another song would not be byte-identical to the same song
rendered first. A child forked from a clean fork server starts from the library's initial
state every time, whatever the parent did before (other songs, the lyrics tests...).

Costs a few tens of milliseconds per song once the fork server runs (it preloads the
engine, ~2 s, once per parent process). Where fork servers do not exist (Windows) or
children are not allowed (inside a daemonic process), the render runs in-process.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Module the fork server imports once, so each child starts with the engine loaded.
PRELOAD = "tasks.song.local_engine"


@functools.cache
def _fork_server() -> Any:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    return context


def run_isolated(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in a fresh child process (fn and args must be picklable); exceptions come back as raised."""
    context = _fork_server()
    if context is None or multiprocessing.current_process().daemon:
        return fn(*args)
    with context.Pool(1) as pool:
        return pool.apply(fn, args)
