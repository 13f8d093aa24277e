"""What an ACE-Step server can do, found out cheaply before relying on it (feature detection).

Upstream ACE-Step 1.5 servers come in two API generations (see docs/song-engines.md):
the server at commit f30aee4 (and builds like it) answers `/health` with status/service/version
only; the refactored server of later releases adds `models_initialized`, `llm_initialized`,
`loaded_model`... (acestep/api/http/model_service_routes.py), and with them come
`/v1/model_inventory`, the LoRA routes, working multipart uploads, honoured seeds and the
opus/aac/wav32 formats. One GET /health tells them apart.

`check_server` runs before a song is sent: what the server cannot do is refused in one line
(opus on f30aee4, --lora without LoRA routes), uploads it cannot take are sent another way,
the LoRA adapter is loaded, and a model it does not have is warned about.

`lm_status` answers "is the server's 5Hz LM loaded?", which the job failures, `mvflow doctor`
and the songwriting features need: newer servers say it in /health; older ones only show it
when asked to use it, so there `/format_input` is called (it answers 503/500 "LLM not
initialized" without the LM; with the LM it runs one short formatting).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from mvflow.errors import AceStepAuthError, AceStepError, AceStepUnsupported, UploadsRejected
from mvflow.song.acestep.options import CLASSIC_FORMATS

if TYPE_CHECKING:
    from mvflow.song.acestep.client import AceStepClient
    from mvflow.song.acestep.options import AceStepOptions

log = logging.getLogger("mvflow.acestep")

#: /health keys only the refactored server (later releases) sends.
NEWER_HEALTH_KEYS = ("models_initialized", "llm_initialized", "loaded_model")
#: What upstream says when a job or a route needed the LM and none is loaded (text or traceback).
LM_MISSING = re.compile(r"LLM not initialized|5Hz LM init failed|LLM init failed|ACESTEP_INIT_LLM", re.IGNORECASE)
OLD_SERVER = ("an ACE-Step 1.5 build like upstream commit f30aee4, whose /health reports no models or LM")


@dataclass(frozen=True)
class ServerInfo:
    """What /health says about a server's API generation and its LM (`known` False: /health answered
    nothing ACE-Step-like, so nothing is assumed and the server's own answers will tell)."""

    health: dict
    known: bool = True

    @property
    def newer_api(self) -> bool:
        """The refactored API of later releases (uploads fixed, seeds honoured, LoRA, more formats)."""
        return any(key in self.health for key in NEWER_HEALTH_KEYS)

    @property
    def takes_uploads(self) -> bool:
        """Multipart `/release_task` works: builds before the fix answer every upload with 500."""
        return self.newer_api

    @property
    def lm_loaded(self) -> bool | None:
        """What /health says of the LM; None when it does not say (older servers)."""
        value = self.health.get("llm_initialized")
        return value if isinstance(value, bool) else None

    def describe(self) -> str:
        return "a later ACE-Step 1.5 release" if self.newer_api else OLD_SERVER


def server_info(client: AceStepClient) -> ServerInfo:
    """One GET /health; an answer that is not ACE-Step's envelope leaves the server's API unknown."""
    try:
        return ServerInfo(client.health())
    except AceStepAuthError:
        raise
    except AceStepError as exc:
        log.debug("ACE-Step /health told nothing: %s", exc)
        return ServerInfo({}, known=False)


def is_lm_missing(text: str | None) -> bool:
    """True when an error text (a message or a traceback's last line) says the LM is not loaded."""
    return bool(text) and bool(LM_MISSING.search(text or ""))


@dataclass(frozen=True)
class LmStatus:
    """Whether the server's LM is loaded (None: could not be told) and how that was found out."""

    available: bool | None
    how: str

    def line(self) -> str:
        state = {True: "loaded", False: "not loaded", None: "unknown"}[self.available]
        return f"{state} ({self.how})"


def lm_status(client: AceStepClient, info: ServerInfo | None = None) -> LmStatus:
    """Is the LM loaded? /health on later releases; older ones are asked through /format_input."""
    info = info or server_info(client)
    if info.lm_loaded is not None:
        return LmStatus(info.lm_loaded, "from /health")
    try:
        client.format_input("mvflow LM check", "", {})
    except AceStepAuthError:
        raise
    except (AceStepError, httpx.HTTPStatusError) as exc:
        if is_lm_missing(str(exc)):
            return LmStatus(False, "/format_input: LLM not initialized")
        if isinstance(exc, AceStepError) and "format_sample failed" in str(exc):
            return LmStatus(True, "/format_input reached the LM (its formatting failed)")
        return LmStatus(None, f"/format_input failed: {str(exc)[:120]}")
    return LmStatus(True, "/format_input answered")


def check_server(client: AceStepClient, options: AceStepOptions, uploads: bool = False) -> list[str]:
    """Before a song is sent: refuse what this server cannot do (in one line), load the LoRA adapter
    asked for, and warn of what it would substitute. Returns the warnings for the Song."""
    from mvflow.song.acestep.lora import apply_lora

    info = server_info(client)
    wanted = options.newer_features()
    if wanted and info.known and not info.newer_api:
        saved = " (it would save the audio as FLAC)" if options.audio_format not in CLASSIC_FORMATS else ""
        raise AceStepUnsupported(f"{' and '.join(wanted)} need a later ACE-Step 1.5 release: {client.base_url} is "
                                 f"{OLD_SERVER}{saved}")
    if uploads and info.known and not info.takes_uploads:
        raise UploadsRejected(f"{client.base_url} is {OLD_SERVER}: it answers every upload with 500 (a TypeError: "
                              "reference_audio_path given twice) and keeps the uploaded file")
    warnings = apply_lora(client, options) if info.newer_api or options.lora else []
    return [*warnings, *model_warnings(client, options)]


def model_warnings(client: AceStepClient, options: AceStepOptions) -> list[str]:
    """A line when the model asked for is not on the server (which would quietly use its primary model)."""
    if not options.model:
        return []
    names = client.models()
    if not names or options.model in names:
        return []
    return [f"ACE-Step has no model {options.model!r} (it has {', '.join(names)}): it generates with its primary "
            f"model {names[0]!r} instead"]
