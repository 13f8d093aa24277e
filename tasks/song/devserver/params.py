"""How an ACE-Step server reads /release_task parameters (contract §4.2-4.3), as pure functions.

Each canonical parameter is looked up under all its aliases: top-level keys first, then
`param_obj`, then the first non-empty of `metas`/`meta`/`metadata`/`user_metadata`/
`userMetadata` (objects or JSON strings). The first non-null value wins. Coercion is
lenient on purpose, like upstream: unparsable numbers fall back to the default, booleans
are true only for true/1/yes/y/on. The built-in server uses this so that a client tested
against it meets the same alias traps as against the real one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Coerce = Callable[[Any, Any], Any]


def to_str(value: Any, default: Any) -> Any:
    return default if value is None else str(value)


def to_int(value: Any, default: Any) -> Any:
    if value in (None, ""):
        return default
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def to_float(value: Any, default: Any) -> Any:
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def to_bool(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "y", "on")


def to_raw(value: Any, default: Any) -> Any:
    """Kept as sent (seed may be an int or '42,43')."""
    return default if value in (None, "") else value


#: canonical name -> (aliases, coercion, default). The subset of §4.3 the built-in engine reads.
PARAMS: dict[str, tuple[tuple[str, ...], Coerce, Any]] = {
    "prompt": (("caption",), to_str, ""),
    "lyrics": ((), to_str, ""),
    "thinking": ((), to_bool, False),
    "sample_mode": (("sampleMode",), to_bool, False),
    "sample_query": (("sampleQuery", "description", "desc"), to_str, ""),
    "use_format": (("useFormat", "format"), to_bool, False),
    "model": (("model_name", "modelName", "dit_model", "ditModel"), to_str, None),
    "bpm": ((), to_int, None),
    "key_scale": (("keyscale", "keyScale", "key"), to_str, ""),
    "time_signature": (("timesignature", "timeSignature"), to_str, ""),
    "audio_duration": (("duration", "audioDuration", "target_duration", "targetDuration"), to_float, None),
    "vocal_language": (("vocalLanguage", "language"), to_str, "en"),
    "inference_steps": (("inferenceSteps",), to_int, 8),
    "guidance_scale": (("guidanceScale",), to_float, 7.0),
    "use_random_seed": (("useRandomSeed",), to_bool, True),
    "seed": ((), to_raw, -1),
    "batch_size": ((), to_int, 2),
    "audio_format": ((), to_str, "mp3"),
    "task_type": (("taskType",), to_str, "text2music"),
    "src_audio_path": (("ctx_audio_path", "sourceAudioPath", "srcAudioPath", "ctxAudioPath"), to_str, None),
    "reference_audio_path": (("ref_audio_path", "referenceAudioPath", "refAudioPath"), to_str, None),
    "repainting_start": ((), to_float, 0.0),
    "repainting_end": ((), to_float, None),
    "audio_cover_strength": (("audioCoverStrength",), to_float, 1.0),
    "repaint_mode": ((), to_str, "balanced"),  # later releases only
    "repaint_strength": ((), to_float, 0.5),  # later releases only
    "lm_backend": ((), to_str, "vllm"),
    "analysis_only": (("analysisOnly",), to_bool, False),
    "full_analysis_only": (("fullAnalysisOnly",), to_bool, False),
}

META_CONTAINERS = ("metas", "meta", "metadata", "user_metadata", "userMetadata")
LM_BACKENDS = ("vllm", "pt", "mlx")


def as_object(value: Any) -> dict:
    """An object, or a JSON string holding one; anything else is empty."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def sources(body: dict) -> list[dict]:
    """Where parameters are looked for, in order: top level, param_obj, the first non-empty metas."""
    found = [body, as_object(body.get("param_obj"))]
    for name in META_CONTAINERS:
        obj = as_object(body.get(name))
        if obj:
            found.append(obj)
            break
    return found


def lookup(places: list[dict], names: tuple[str, ...]) -> Any:
    for place in places:
        for name in names:
            if place.get(name) is not None:
                return place[name]
    return None


def parse_release_params(body: dict) -> dict[str, Any]:
    """Every canonical parameter, found under any alias and coerced leniently."""
    places = sources(body)
    return {name: coerce(lookup(places, (name, *aliases)), default)
            for name, (aliases, coerce, default) in PARAMS.items()}


def parse_seeds(value: Any) -> list[int]:
    """'42,43' or 42 -> [42, 43] / [42]; negative or unparsable seeds mean 'random'."""
    seeds = [to_int(part.strip(), None) for part in str(value).split(",")] if value is not None else []
    return [s for s in seeds if s is not None and s >= 0]
