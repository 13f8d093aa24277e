"""Songwriters: who turns an idea into a song plan, how one is chosen, and the one repair round-trip.

Two songwriters, in the registry SONGWRITERS: "openai" (a chat model through the openai SDK
with structured output: OpenAI itself or any OpenAI-compatible server, such as Ollama, a
llama.cpp server, vLLM or LM Studio) and "acestep" (the LM of the ACE-Step server that makes
the song). There is no offline songwriter: an idea needs a language model, and a template
that fills in words would only pretend to write.

"auto" picks openai when a key or a base URL is configured, else acestep when the engine is
acestep and its server does not say its LM is off, else fails with one line naming the three
ways to enable songwriting. The choice, the model and the server are resolved before the
flow runs (`songwriter_options`), so the plan's cache key names what really writes.

Every songwriter answers through a `Conversation`: a first answer, and a repair given the
problems found in it. `write_draft` runs that loop once: a plan with problems gets one
repair round-trip, and a plan still wrong after it fails the step showing every problem.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mvflow.errors import InputError, SongwriterError
from mvflow.models import SongIdea, SongwriterOptions
from mvflow.registry import Check, Provider, Registry
from mvflow.songwriting.checks import merged, problems, read_draft

if TYPE_CHECKING:
    from mvflow.models import SongRequest
    from mvflow.settings import Settings

AUTO = "auto"
#: The one line `auto` says when nothing can write: the three ways to enable songwriting.
HOW_TO_ENABLE = ("no songwriter for --idea: set OPENAI_API_KEY (OpenAI), or songwriter_base_url "
                 "(--songwriter-url) to a local OpenAI-compatible server such as Ollama, or use --engine acestep "
                 "with a server whose LM is loaded; or give --lyrics and --caption yourself")


@dataclass
class Answer:
    """One answer of a songwriter: its JSON fields, or why it could not be read."""

    data: dict[str, Any] | None
    unreadable: list[str] = field(default_factory=list)


class Conversation(ABC):
    """One songwriting exchange with a songwriter: the first answer, then at most one repair."""

    @abstractmethod
    def first(self) -> Answer:
        """The songwriter's plan for the idea."""

    @abstractmethod
    def repair(self, problems: list[str]) -> Answer:
        """A corrected plan, told what was wrong with the previous answer."""


class Songwriter(Provider):
    """Writes song plans. Subclasses say when they can (for auto), with what, and hold the conversation."""

    role: ClassVar[str] = "songwriter"

    @abstractmethod
    def configured(self, settings: Settings, request: SongRequest | None) -> tuple[bool, str]:
        """(can it write here, why or why not) without writing anything: what auto and doctor ask."""

    @abstractmethod
    def options(self, settings: Settings, request: SongRequest | None) -> SongwriterOptions:
        """The options a plan is written with: model, server and key resolved now (a clear error if impossible)."""

    @abstractmethod
    def conversation(self, idea: SongIdea, options: SongwriterOptions) -> Conversation:
        """A new exchange about `idea`."""

    def auto_hint(self, settings: Settings, request: SongRequest | None) -> str | None:
        """A reason to add to auto's "no songwriter" line when this one was expected to work; None by default."""
        return None

    def checks(self, settings: Settings) -> list[Check]:
        ok, why = self.configured(settings, None)
        return [self.row(ok, why)]


#: What auto tries, in order.
AUTO_ORDER = ("openai", "acestep")


def auto_checks(settings: Settings) -> list[Check]:
    """The doctor row of `auto`: which songwriter `--idea` would use with these settings, or the three
    ways to enable one."""
    try:
        chosen = choose_songwriter(AUTO, settings, None)
    except InputError as exc:
        return [Check("songwriter: auto", False, str(exc))]
    return [Check("songwriter: auto", True, f"--idea would use {chosen}")]


SONGWRITERS: Registry[Songwriter] = Registry(Songwriter, {
    "openai": "mvflow.songwriting.openai_writer:SONGWRITER",
    "acestep": "mvflow.songwriting.acestep_writer:SONGWRITER",
}, summary=auto_checks)


def songwriter_help() -> str:
    """The --songwriter choices for --help."""
    return f"auto (openai when a key or base URL is set, else acestep with --engine acestep), {SONGWRITERS.help()}"


def choose_songwriter(name: str, settings: Settings, request: SongRequest | None) -> str:
    """The songwriter to use for `name` ("auto" or a songwriter's name); one clear error when none can write."""
    wanted = (name or AUTO).strip().lower()
    if wanted != AUTO:
        if wanted not in SONGWRITERS:
            raise SONGWRITERS.unknown(name, AUTO)
        return wanted
    for candidate in AUTO_ORDER:
        ok, _ = SONGWRITERS.get(candidate).configured(settings, request)
        if ok:
            return candidate
    hints = [hint for name in AUTO_ORDER if (hint := SONGWRITERS.get(name).auto_hint(settings, request))]
    raise InputError(HOW_TO_ENABLE + (f" ({'; '.join(hints)})" if hints else ""))


def songwriter_options(settings: Settings, request: SongRequest | None) -> SongwriterOptions:
    """The plan's SongwriterOptions for these settings (songwriter, model, server, prompt), resolved now."""
    name = choose_songwriter(settings.songwriter, settings, request)
    return SONGWRITERS.get(name).options(settings, request)


def write_draft(conversation: Conversation, idea: SongIdea, describe: str,
                warn: Callable[[str], None] | None = None) -> tuple[dict[str, Any], list[str], bool]:
    """(the merged plan, notes, whether it was repaired): the first answer, and one repair if it had problems.

    `describe` names the songwriter in the error ("openai (gpt-4o-mini)"). A plan still wrong after
    the repair raises SongwriterError listing every problem; nothing is cut to make it fit.
    """
    warn = warn or logging.getLogger(__name__).warning
    plan, found, notes = _checked(conversation.first(), idea)
    if not found:
        return plan, notes, False
    for problem in found:
        warn(f"songwriter {describe}: {problem}; asking for a repaired plan")
    plan, still, notes = _checked(conversation.repair(found), idea)
    if still:
        raise SongwriterError(f"songwriter {describe} wrote no usable plan, even after one repair: "
                              + "; ".join(still), still)
    return plan, notes, True


def _checked(answer: Answer, idea: SongIdea) -> tuple[dict[str, Any], list[str], list[str]]:
    """(merged plan, problems, notes) of one answer."""
    if answer.data is None:
        return {}, answer.unreadable or ["the answer was empty"], []
    draft, shape = read_draft(answer.data)
    if draft is None:
        return {}, shape, []
    plan = merged(draft, idea)
    found, notes = problems(plan, idea)
    return plan, found, notes
