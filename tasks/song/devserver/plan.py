"""What a job's parameters mean for the development server: the SongPlan, as upstream would decide it.

Upstream's decisions are kept, defects included (see devserver.behaviour):
* a job that needs the LM (`thinking`, `use_format`, `sample_query`/description, `sample_mode`,
  `analysis_only`) fails when none is loaded (f30aee4 api_server.py:1361-1362); with the LM,
  description and sample mode take the LM's caption, lyrics, metas **and duration**
  (api_server.py:1412-1417), and an analysis-only job answers them without audio;
* seeds: f30aee4 ignores the request's seeds (`GenerationConfig(seeds=None)`, api_server.py:1529)
  and draws the batch's seeds twice, so the reported `seed_value` is not the seed the DiT used
  (inference.py:381, handler.py:3223); later releases honour them, a single seed for a batch
  giving the first audio that seed and the rest random (handler.prepare_seeds);
* an unknown `model` silently becomes the primary model (api_server.py:1214-1241);
* `audio_format` outside the version's formats is saved as FLAC (audio_utils.AudioSaver);
* a cover or repaint without source audio falls back to text2music.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from mvflow.errors import JobRejected
from mvflow.song.devserver import lm as acestep_lm
from mvflow.song.devserver.behaviour import LM_MISSING, Behaviour
from mvflow.song.devserver.params import parse_seeds

PRIMARY_MODEL = "mvflow-local"
LM_MODEL = "acestep-5Hz-lm-0.6B"  # what upstream reports whatever is loaded (ACESTEP_LM_MODEL_PATH or this)
MAX_DURATION_S = 600.0
MAX_BATCH = 8
REPAINT_MODES = ("conservative", "balanced", "aggressive")


@dataclass
class SongPlan:
    """What a job will generate, after the LM stand-in and the server's defaults."""

    caption: str
    lyrics: str
    bpm: int | None
    key_scale: str
    time_signature: str
    duration: float
    language: str
    seeds: list[int]
    audio_format: str
    task_type: str
    original_caption: str
    original_lyrics: str
    reported_seeds: list[int] = field(default_factory=list)
    lm_caption: str | None = None
    cover_strength: float = 1.0
    repaint_start: float = 0.0
    repaint_end: float = -1.0
    repaint_mode: str = "aggressive"
    repaint_strength: float = 1.0


def needs_lm(params: dict[str, Any]) -> list[str]:
    """The parameters of a request that need the LM (upstream's `require_llm`)."""
    asked = {"thinking": params["thinking"], "sample_mode": params["sample_mode"],
             "sample_query": bool(params["sample_query"].strip()), "use_format": params["use_format"],
             "analysis_only": params["analysis_only"]}
    return [name for name, on in asked.items() if on]


def plan_song(params: dict[str, Any], has_source: bool, rng: random.Random, behaviour: Behaviour) -> SongPlan:
    """Turn parsed parameters into a SongPlan: LM stand-in, seeds, format, duration, task type.

    An `analysis_only` job is planned like any other (the LM writes in sample/description mode and
    fills the metas); the worker then returns the plan without generating audio.
    """
    if params["full_analysis_only"]:
        raise JobRejected("full analysis jobs need ACE-Step's audio codes of the source, which the built-in "
                          "engine does not have")
    if needs_lm(params) and not behaviour.lm:
        raise RuntimeError(LM_MISSING)
    task_type = params["task_type"] or "text2music"
    if task_type in ("cover", "repaint") and not has_source:
        task_type = "text2music"  # upstream falls back too
    if task_type not in ("text2music", "cover", "repaint"):
        raise JobRejected(f"task_type {task_type!r} needs ACE-Step's DiT; the built-in engine does "
                          "text2music, cover and repaint")
    duration = params["audio_duration"]
    if duration is None or duration <= 0:
        duration = rng.uniform(10.0, 120.0)  # what the DiT does without an LM
    batch = min(max(params["batch_size"], 1), MAX_BATCH)
    used, reported = seeds_for(params, batch, rng, behaviour.honours_seeds)
    plan = SongPlan(
        caption=params["prompt"], lyrics=params["lyrics"], bpm=_tempo(params["bpm"]), key_scale=params["key_scale"],
        time_signature=_beats(params["time_signature"]), duration=min(float(duration), MAX_DURATION_S),
        language=params["vocal_language"] or "en", seeds=used, reported_seeds=reported,
        audio_format=params["audio_format"] if params["audio_format"] in behaviour.formats else "flac",
        task_type=task_type, original_caption=params["prompt"], original_lyrics=params["lyrics"],
        cover_strength=params["audio_cover_strength"], repaint_start=params["repainting_start"] or 0.0,
        repaint_end=params["repainting_end"] if params["repainting_end"] else -1.0,
        **_repaint_mode(params, behaviour),
    )
    plan = apply_lm(plan, params)
    if behaviour.lm and params["thinking"]:
        plan.lm_caption = plan.caption  # the LM's chain of thought wrote metas.caption
    return plan


def _repaint_mode(params: dict[str, Any], behaviour: Behaviour) -> dict[str, Any]:
    """Later releases read repaint_mode/repaint_strength; f30aee4 always repaints the region anew."""
    mode = params.get("repaint_mode") or "balanced"
    if not behaviour.newer_api or mode not in REPAINT_MODES:
        return {"repaint_mode": "aggressive", "repaint_strength": 1.0}
    return {"repaint_mode": mode, "repaint_strength": params.get("repaint_strength", 0.5)}


def apply_lm(plan: SongPlan, params: dict[str, Any]) -> SongPlan:
    """Sample/description mode writes caption, lyrics and metas and chooses the length (the request's
    duration is replaced, as upstream's LM does); format mode tidies caption and lyrics and fills metas."""
    query = params["sample_query"].strip()
    if query or params["sample_mode"]:
        written = acestep_lm.sample_song(query, plan.seeds[0], plan.language)
        plan.caption, plan.lyrics = written["caption"], written["lyrics"]
        plan.bpm, plan.key_scale = written["bpm"], written["key_scale"]
        plan.time_signature, plan.language = written["time_signature"], written["vocal_language"]
        plan.duration = written["duration"]
    elif params["use_format"]:
        metas = {"bpm": plan.bpm, "key_scale": plan.key_scale, "time_signature": plan.time_signature,
                 "duration": plan.duration, "language": params["vocal_language"]}
        formatted = acestep_lm.format_song(plan.caption, plan.lyrics, metas, plan.seeds[0])
        plan.caption, plan.lyrics = formatted["caption"], formatted["lyrics"]
        plan.bpm, plan.key_scale = formatted["bpm"], formatted["key_scale"]
        plan.time_signature = formatted["time_signature"]
    return plan


def seeds_for(params: dict[str, Any], batch: int, rng: random.Random, honoured: bool) -> tuple[list[int], list[int]]:
    """(the seeds each audio is made with, the seeds reported in seed_value)."""
    if not honoured:
        used = [rng.randrange(2**32) for _ in range(batch)]
        return used, [rng.randrange(2**32) for _ in range(batch)]
    given = [] if params["use_random_seed"] else parse_seeds(params["seed"])[:batch]
    used = given + [rng.randrange(2**32) for _ in range(batch - len(given))]
    return used, used


def _tempo(bpm: int | None) -> int | None:
    return bpm if bpm is not None and 30 <= bpm <= 300 else None


def _beats(value: str) -> str:
    text = (value or "").strip().split("/")[0]
    return text if text in ("2", "3", "4", "6") else ""
