"""Provider registries: a provider is chosen by a string, resolved here, not by if-chains.

Entries are "module:function" strings imported on first use, so optional dependencies
(faster-whisper, espeak-ng, cloud SDKs) are only needed by the provider that uses them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from mvflow.errors import PermanentError


class Registry:
    def __init__(self, kind: str, entries: dict[str, str]) -> None:
        self.kind = kind
        self._entries = dict(entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Callable[..., Any]:
        """The provider's function; a clear PermanentError for unknown names."""
        target = self._entries.get(name)
        if target is None:
            raise PermanentError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}")
        module_name, _, attr = target.partition(":")
        return getattr(importlib.import_module(module_name), attr)
