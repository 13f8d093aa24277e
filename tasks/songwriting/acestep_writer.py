"""The `acestep` songwriter: the LM of the ACE-Step server that makes the song.

ACE-Step's 5Hz LM is trained to turn a description into a caption, lyrics and music
parameters ("simple mode"). mvflow asks it in two steps, as the upstream server offers them:

1. the LM writes from the idea: POST /v1/create_sample with the idea as `query` (newer
   servers). Servers without that route (upstream f30aee4 and older) run the same LM step
   as a job instead: /release_task with `sample_query` and `analysis_only`, which returns
   the caption, lyrics and metas without generating audio, polled with /query_result;
2. POST /format_input with that caption and lyrics and the user's constraints as
   `param_obj`: the LM fills bpm, key, time signature, duration and language to agree with
   them. Only its caption and parameters are taken; the lyrics stay as step 1 wrote them.

Upstream's /create_random_sample is not used: it ignores any query and returns one of the
server's bundled examples, which would be a song about something else.

The LM gives no title: the chorus's first line (the hook) is used, unless the user gave one.
The repair round-trip asks the LM again, for a shorter song when the lyrics did not fit.
Whether the LM is loaded is what newer servers' /health says (`llm_initialized`); older
servers do not say, and their LM routes answer 503 or 500 when it is missing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx

from mvflow.errors import AceStepError, AceStepJobFailed, AceStepTimeout, PermanentError, is_transient
from mvflow.models import SongIdea, SongwriterOptions
from mvflow.settings import api_key
from mvflow.songwriting.checks import title_from_lyrics
from mvflow.songwriting.providers import Answer, Conversation, Songwriter

if TYPE_CHECKING:
    from mvflow.models import SongRequest
    from mvflow.settings import Settings
    from mvflow.song.acestep.client import AceStepClient

#: The model name recorded when the server does not name its LM (older /health).
UNNAMED_LM = "acestep-lm"
TEMPERATURE = 0.85
#: Seconds an LM request (or the analysis job on older servers) may take.
LM_TIMEOUT = 300.0
PROBE_TIMEOUT = 5.0
POLL_INTERVAL = 1.0
START_LM = "start the server with ACESTEP_INIT_LLM=true, or use --songwriter openai"


def server_of(settings: Settings, request: SongRequest | None) -> str:
    """The ACE-Step server whose LM writes: the request's (--api-url) when it uses ACE-Step, else the configured one
    (of a pool of servers, the first)."""
    if request is not None and request.engine == "acestep":
        from mvflow.song.acestep.options import AceStepOptions

        return AceStepOptions.from_request(request).api_url
    return settings.acestep_api_url.split(",")[0].strip()


#: lm_status answers by server, remembered this many seconds (a batch of ideas asks once, not per song).
STATUS_TTL_S = 30.0
_status: dict[str, tuple[float, tuple[bool | None, str]]] = {}


def lm_status(url: str) -> tuple[bool | None, str]:
    """(loaded: True, False, or None when the server does not say; the LM's name, or why not). Never raises."""
    now = time.monotonic()
    known = _status.get(url)
    if known is not None and now - known[0] < STATUS_TTL_S:
        return known[1]
    _status[url] = (now, _ask_lm_status(url))
    return _status[url][1]


def _ask_lm_status(url: str) -> tuple[bool | None, str]:
    from mvflow.song.acestep.client import AceStepClient

    try:
        with AceStepClient(url, api_key=api_key("acestep"), timeout=PROBE_TIMEOUT) as client:
            health = client.health()
    except (httpx.HTTPError, AceStepError, PermanentError) as exc:
        return False, f"cannot ask {url} ({type(exc).__name__}: {str(exc)[:120]})"
    loaded = health.get("llm_initialized") if isinstance(health, dict) else None
    if loaded is None:
        return None, UNNAMED_LM
    name = health.get("loaded_lm_model") or UNNAMED_LM
    return bool(loaded), str(name) if loaded else f"{url} says its LM is not loaded: {START_LM}"


class AceStepSongwriter(Songwriter):
    name = "acestep"
    description = "the LM of the ACE-Step server that makes the song"

    def configured(self, settings: Settings, request: SongRequest | None) -> tuple[bool, str]:
        """Usable when the engine is acestep and its server does not say its LM is off."""
        engine = request.engine if request is not None else settings.engine
        url = server_of(settings, request)
        if engine != "acestep":
            return False, f"needs --engine acestep (its server's LM writes; configured: {url})"
        loaded, detail = lm_status(url)
        if loaded is None:
            return True, f"{url} does not say whether its LM is loaded (an older ACE-Step): it will be tried"
        return loaded, f"LM {detail} loaded at {url}" if loaded else detail

    def auto_hint(self, settings: Settings, request: SongRequest | None) -> str | None:
        """Why auto could not use the LM of the engine's own ACE-Step server (nothing when the engine is another)."""
        engine = request.engine if request is not None else settings.engine
        ok, why = self.configured(settings, request)
        return None if ok or engine != "acestep" else f"acestep: {why}"

    def options(self, settings: Settings, request: SongRequest | None) -> SongwriterOptions:
        url = server_of(settings, request)
        loaded, detail = lm_status(url)
        if loaded is False and not detail.startswith("cannot ask"):
            raise PermanentError(f"songwriter acestep: {detail}")
        model = detail if loaded else UNNAMED_LM
        return SongwriterOptions(provider=self.name, model=model, base_url=url, key_from="acestep",
                                 prompt=str(settings.songwriter_prompt or ""))

    def conversation(self, idea: SongIdea, options: SongwriterOptions) -> Conversation:
        return LmConversation(idea, options)


class LmConversation(Conversation):
    """Asks the server's LM for a sample from the idea, then for parameters that agree with the constraints."""

    def __init__(self, idea: SongIdea, options: SongwriterOptions) -> None:
        self.idea = idea
        self.url = options.base_url or ""

    def first(self) -> Answer:
        return self._write(query_for(self.idea))

    def repair(self, problems: list[str]) -> Answer:
        """Ask again: the LM samples anew; when the lyrics were too long, the query asks for a short song."""
        too_long = any("do not fit" in problem or "cut off" in problem for problem in problems)
        return self._write(query_for(self.idea, short=too_long))

    def _write(self, query: str) -> Answer:
        from mvflow.song.acestep.client import AceStepClient
        from mvflow.song.acestep.server_info import is_lm_missing

        try:
            with AceStepClient(self.url, api_key=api_key("acestep"), timeout=LM_TIMEOUT) as client:
                sample = client.create_sample(query, self.idea.instrumental, self.idea.language, TEMPERATURE)
                if sample is None:
                    sample = analysis_sample(client, query, self.idea)
                formatted = client.format_input(_text(sample, "caption", "prompt"), _text(sample, "lyrics"),
                                                constraints_of(self.idea), TEMPERATURE)
        except httpx.HTTPStatusError as exc:
            if is_lm_missing(str(exc)):  # upstream's 503/500: retrying cannot load it
                raise PermanentError(f"the ACE-Step server's LM is not loaded ({str(exc)[:160]}): {START_LM}") from exc
            raise
        return Answer(draft_from(sample, formatted, self.idea))


def query_for(idea: SongIdea, short: bool = False) -> str:
    """The description the LM writes from: the idea, the mood, the voice, the style, and how long."""
    parts = [idea.idea, idea.mood, f"{idea.vocal} vocal" if idea.vocal else None, idea.caption,
             "instrumental" if idea.instrumental else None]
    if idea.duration is not None:
        parts.append(f"a short song of about {idea.duration:g} seconds" if short else f"about {idea.duration:g} "
                                                                                       "seconds long")
    elif short:
        parts.append("a short song")
    return ", ".join(part for part in parts if part)


def constraints_of(idea: SongIdea) -> dict[str, Any]:
    """The user's values as /format_input's `param_obj` (the LM keeps them and fills the rest)."""
    given = {"duration": idea.duration, "bpm": idea.bpm, "key_scale": idea.key_scale,
             "time_signature": idea.time_signature, "language": idea.language}
    return {name: value for name, value in given.items() if value is not None}


def analysis_sample(client: AceStepClient, query: str, idea: SongIdea) -> dict[str, Any]:
    """Older servers: the LM's sample step as an analysis-only job (no audio), polled to its end."""
    payload = {"sample_query": query + (", instrumental" if idea.instrumental else ""), "analysis_only": True,
               "batch_size": 1, "thinking": False, "vocal_language": idea.language or "unknown"}
    task_id = client.submit(payload)
    deadline = time.monotonic() + LM_TIMEOUT
    while True:
        try:
            state = client.query_one(task_id)
        except Exception as exc:  # noqa: BLE001 - a dropped poll is retried until the deadline
            if not is_transient(exc) or time.monotonic() > deadline:
                raise
            state = None
        if state is not None and state.status == 1 and state.entries:
            return state.entries[0]
        if state is not None and state.status == 2:
            raise AceStepJobFailed(f"the ACE-Step LM job {task_id} failed: {state.error or 'no reason given'} "
                                   f"(its LM may not be loaded: {START_LM})")
        if time.monotonic() > deadline:
            raise AceStepTimeout(f"the ACE-Step LM job {task_id} did not finish within {LM_TIMEOUT:.0f} s")
        time.sleep(POLL_INTERVAL)


def draft_from(sample: dict[str, Any], formatted: dict[str, Any], idea: SongIdea) -> dict[str, Any]:
    """The plan's fields from the LM's sample and its formatted parameters (formatted ones first)."""
    metas = sample.get("metas") if isinstance(sample.get("metas"), dict) else {}
    lyrics = _text(sample, "lyrics")
    caption = _text(formatted, "caption") or _text(sample, "caption", "prompt")

    def pick(*values: Any) -> Any:
        return next((v for v in values if v not in (None, "", "N/A")), None)

    return {
        "title": idea.title or title_from_lyrics(lyrics, caption.split(",")[0].strip().title() or "Untitled"),
        "caption": caption, "lyrics": lyrics,
        "bpm": pick(formatted.get("bpm"), sample.get("bpm"), metas.get("bpm")),
        "key_scale": pick(formatted.get("key_scale"), sample.get("keyscale"), metas.get("keyscale")),
        "time_signature": pick(formatted.get("time_signature"), sample.get("timesignature"),
                               metas.get("timesignature")),
        "duration": pick(formatted.get("duration"), sample.get("duration"), metas.get("duration")),
        "vocal_language": pick(formatted.get("vocal_language"), sample.get("vocal_language"), idea.language),
    }


def _text(data: dict[str, Any], *keys: str) -> str:
    return next((str(data[k]).strip() for k in keys if isinstance(data.get(k), str) and data[k].strip()), "")


SONGWRITER = AceStepSongwriter()
