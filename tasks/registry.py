"""Providers: everything mvflow lets a user choose by name, resolved by one mechanism.

Six roles are chosen by a string in a request, a flag or a setting: song engines, transcribers,
cover providers, visualisers, video codecs and timed-lyrics readers. Each role is a `Registry`
of entries written as "module:attr" and imported on first use, so an optional dependency
(faster-whisper, espeak-ng, a cloud SDK) is only needed by the provider that uses it. Each entry
is an instance of the role's base class, a `Provider`: it has a `name`, a one-line
`description` (for --help and `mvflow doctor`) and `checks` (the doctor rows of what it needs
on this machine). Callers ask the provider object instead of branching on its name, and
`mvflow doctor` iterates the registries, so a provider added here is checked and listed
everywhere without another if-chain.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from mvflow.errors import InputError, PermanentError

if TYPE_CHECKING:
    from mvflow.settings import Settings

#: How an unknown name is refused; a role may word it its own way (`Registry(unknown=...)`).
UNKNOWN = "unknown {role} {name!r}; choose one of: {choices}"


@dataclass
class Check:
    """One `mvflow doctor` row: what was checked, whether it passed, and what was found (never a key).

    `required`: a failing required row makes `mvflow doctor` exit non-zero, because nothing
    can be made without it (ffmpeg, the configured codec, a readable config file).
    """

    name: str
    ok: bool
    detail: str
    required: bool = False


class Provider:
    """What every registered provider is: a name, one line saying what it is, and its doctor checks.

    A role subclasses this (Engine, Transcriber, CoverProvider, Visualiser, Codec,
    TimedLyricsReader), sets `role` and adds the methods its callers use.
    """

    #: The role's name in messages and doctor rows: "unknown {role} ...", "{role}: {name}".
    role: ClassVar[str] = "provider"
    name: str
    description: str
    #: The provider (a KEY_ENV_VARS entry) whose API key this one cannot work without; None: needs none.
    needs_key: ClassVar[str | None] = None
    #: The SDK package a provider behind a key talks through (checked by doctor); None: plain HTTP.
    sdk: ClassVar[str | None] = None

    def checks(self, settings: Settings) -> list[Check]:
        """Doctor rows of what this provider needs here. By default: a provider behind a key checks its
        SDK and key (`key_check`); any other has nothing to check beyond loading ([])."""
        return [self.key_check(self.sdk)] if self.needs_key else []

    def has_key(self) -> bool:
        """True when the key it needs is configured (or it needs none). Reads the key, never shows it."""
        from mvflow.settings import api_key

        return self.needs_key is None or api_key(self.needs_key) is not None

    def row(self, ok: bool, detail: str, required: bool = False) -> Check:
        """This provider's doctor row, named '{role}: {name}'."""
        return Check(f"{self.role}: {self.name}", ok, detail, required)

    def key_check(self, package: str | None = None) -> Check:
        """The row of a provider behind a key (`needs_key`), and an SDK: the package imports, the key is set.

        The key shows only as where it would come from (set/unset, a Secret block), never its value.
        """
        from mvflow.settings import key_source

        found = []
        if package is not None:
            try:
                module = importlib.import_module(package)
            except ImportError as exc:
                return self.row(False, f"{package} cannot be imported: {exc}")
            found.append(f"{package} {getattr(module, '__version__', '')}".strip())
        try:
            ok = self.has_key()
        except PermanentError as exc:  # a Secret block that is configured but missing or empty
            return self.row(False, str(exc))
        return self.row(ok, "; ".join([*found, key_source(self.needs_key or "")]))


P = TypeVar("P", bound=Provider)


def auto_help(order: Iterable[str]) -> str:
    """How "auto" picks, for --help: 'auto (best with the keys set: elevenlabs > openai > local)'."""
    return f"auto (best with the keys set: {' > '.join(order)})"


def either(items: Iterable[str]) -> str:
    """'a', 'a or b', 'a, b or c': choices the way --help and messages say them."""
    listed = list(items)
    return " or ".join(filter(None, [", ".join(listed[:-1]), *listed[-1:]]))


class Registry(Generic[P]):
    """The providers of one role, by name, in the order they are listed (in --help and messages).

    `base` is the role's Provider subclass: every entry must be an instance of it. An unknown
    name raises `error` (an InputError unless the role has its own) worded by `unknown`, one
    line naming the choices. `summary`, when given, adds doctor rows about the role as a whole
    (e.g. which provider "auto" picks here).
    """

    def __init__(self, base: type[P], entries: Mapping[str, str], *, error: type[PermanentError] = InputError,
                 unknown: str = UNKNOWN, summary: Callable[[Settings], list[Check]] | None = None) -> None:
        self.base = base
        self.role = base.role
        self._entries = dict(entries)
        self._error = error
        self._unknown = unknown
        self._summary = summary

    def names(self) -> list[str]:
        return list(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> P:
        """The provider called `name`, its module imported now; an unknown name is one clear error."""
        target = self._entries.get(name)
        if target is None:
            raise self.unknown(name)
        module_name, _, attr = target.partition(":")
        provider = getattr(importlib.import_module(module_name), attr)
        if not isinstance(provider, self.base):
            raise TypeError(f"{target} is a {type(provider).__name__}, not a {self.base.__name__}")
        return provider

    __getitem__ = get

    def providers(self) -> list[P]:
        """Every provider of the role, in order (imports them all)."""
        return [self.get(name) for name in self.names()]

    def add(self, name: str, target: str) -> None:
        """Register another provider ("module:attr"), e.g. a test's own engine."""
        self._entries[name] = target

    def unknown(self, name: str, *extra: str) -> PermanentError:
        """The error for a name that is not registered; `extra` choices (like "auto") are listed first."""
        return self._error(self._unknown.format(role=self.role, name=name, choices=", ".join([*extra, *self])))

    def help(self, where: Callable[[P], bool] | None = None) -> str:
        """'a (what a is), b (...) or c (...)' for --help, of the providers `where` accepts (default: all)."""
        return either(f"{p.name} ({p.description})" for p in self.providers() if where is None or where(p))

    def first_with_key(self, order: Iterable[str]) -> str:
        """The first provider in `order` whose key is configured (or that needs none): what "auto" picks."""
        return next(name for name in order if self.get(name).has_key())

    def checks(self, settings: Settings) -> list[Check]:
        """Doctor rows: each provider's own checks; those with nothing of their own share one row that
        says they load; a provider that cannot even be imported, or whose check itself fails, is a
        failing row of its own."""
        rows, loaded = [], []
        for name in self.names():
            try:
                provider = self.get(name)
            except Exception as exc:  # noqa: BLE001 - a provider that cannot load is what doctor reports
                rows.append(Check(f"{self.role}: {name}", False, f"cannot be loaded: {exc}"))
                continue
            try:
                own = provider.checks(settings)
            except Exception as exc:  # noqa: BLE001 - e.g. a broken config file met while reading a key
                own = [provider.row(False, f"cannot be checked: {exc}")]
            rows.extend(own)
            if not own:
                loaded.append(name)
        if loaded:
            rows.append(Check(f"{self.role}s", True, f"{', '.join(loaded)}: loaded"))
        return rows + self._summary_rows(settings)

    def _summary_rows(self, settings: Settings) -> list[Check]:
        """The role's own rows (`summary`); one failing row when they cannot be worked out."""
        if self._summary is None:
            return []
        try:
            return self._summary(settings)
        except Exception as exc:  # noqa: BLE001 - e.g. a broken config file met while reading a key
            return [Check(f"{self.role}s", False, f"cannot be checked: {exc}")]
