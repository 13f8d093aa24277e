"""Request bodies for ACE-Step, and readers for what it answers: pure functions, no I/O.

The server looks every parameter up under several aliases, and some aliases mean
something a client would not guess (`format` is use_format, `description` switches on
the LM's sample mode, `key` is key_scale, `language` is vocal_language, `duration` is
audio_duration). So bodies use only canonical names, always say `audio_duration` and
`batch_size` (the server would make 2 audios of a length of its choosing), and ask for
the request's seed with `use_random_seed: false` (honoured by later releases; f30aee4 ignores
it): one seed per audio of a batch ("42,43,44"), so every take can be made again.

Answers come in several shapes (contract §5.3-5.4): `sung_text` reads what was sung from either
result shape, and says when the server did not report it.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from mvflow.errors import AceStepError
from mvflow.models import SongRequest
from mvflow.song.acestep.options import EDIT_TASKS, AceStepOptions, normalize_time_signature

#: Names the server reads as something else than a client would expect: never sent.
AMBIGUOUS_KEYS = frozenset({"format", "description", "desc", "key", "language", "duration"})

COMPLETION_MODEL_PREFIX = "acestep/"


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _edit_fields(options: AceStepOptions) -> dict[str, Any]:
    """task_type and the cover/repaint knobs (sent only when they mean something)."""
    if options.task_type not in EDIT_TASKS:
        return {"task_type": "text2music"}
    fields: dict[str, Any] = {"task_type": options.task_type}
    if options.task_type == "repaint":
        fields["repainting_start"] = options.repainting_start or 0.0
        fields["repainting_end"] = options.repainting_end if options.repainting_end is not None else -1
        fields["repaint_mode"] = options.repaint_mode
        fields["repaint_strength"] = options.repaint_strength
    else:
        fields["audio_cover_strength"] = options.audio_cover_strength
    return _drop_none(fields)


def _lm_fields(options: AceStepOptions) -> dict[str, Any]:
    """thinking / format / description (as `sample_query`, the only unambiguous name)."""
    fields: dict[str, Any] = {"thinking": options.thinking, "use_format": options.use_format}
    if options.description:
        fields["sample_query"] = options.description
    return fields


def build_release_payload(request: SongRequest, options: AceStepOptions) -> dict[str, Any]:
    """The JSON body of /release_task (multipart uploads send the same fields as strings)."""
    body = {
        "prompt": request.caption,
        "lyrics": request.lyrics,
        "audio_duration": float(request.duration),
        "batch_size": options.batch_size,
        "audio_format": options.audio_format,
        "vocal_language": request.language,
        "bpm": request.bpm,
        "key_scale": request.key_scale or None,
        "time_signature": normalize_time_signature(request.time_signature),
        "seed": batch_seeds(request.seed, options.batch_size),
        "use_random_seed": False,
        "model": options.model,
        "inference_steps": options.inference_steps,
        "guidance_scale": options.guidance_scale,
        **_lm_fields(options),
        **_edit_fields(options),
    }
    return _drop_none(body)


def completion_content(request: SongRequest, options: AceStepOptions) -> str:
    """The user message: tags for prompt and lyrics; a bare description in simple mode."""
    if options.description:
        return options.description
    text = f"<prompt>{request.caption}</prompt>"
    if not request.instrumental:
        text += f"<lyrics>{request.lyrics.strip()}</lyrics>"
    return text


def batch_seeds(seed: int, count: int) -> int | str:
    """The seed field for `count` audios: the seed itself, or one seed per audio ('42,43,44') so that
    a server honouring seeds makes every audio of the batch reproducible, not only the first."""
    return seed if count <= 1 else ",".join(str(seed + i) for i in range(count))


def build_completion_body(request: SongRequest, options: AceStepOptions, model: str,
                          audio_parts: list[dict] | None = None, take: int = 0) -> dict[str, Any]:
    """The body of /v1/chat/completions for take number `take` (0-based: its seed is the request's + take).
    `audio_parts` are input_audio parts (cover/repaint source). Completion mode answers with one audio,
    so several audios are several requests, each with batch_size 1."""
    content: Any = completion_content(request, options)
    if audio_parts:
        content = [{"type": "text", "text": content}, *audio_parts]
    audio_config = {
        "duration": float(request.duration),
        "format": options.audio_format,  # inside audio_config `format` really is the file format
        "vocal_language": request.language,
        "bpm": request.bpm,
        "key_scale": request.key_scale or None,
        "time_signature": normalize_time_signature(request.time_signature),
        "instrumental": True if request.instrumental and not options.description else None,
    }
    body = {
        "model": model if model.startswith(COMPLETION_MODEL_PREFIX) else COMPLETION_MODEL_PREFIX + model,
        "messages": [{"role": "user", "content": content}],
        "audio_config": _drop_none(audio_config),
        "stream": False,
        "seed": request.seed + take,
        "batch_size": 1,
        "guidance_scale": options.guidance_scale,
        "sample_mode": True if options.description else None,
        **_lm_fields(options),
        **_edit_fields(options),
    }
    body.pop("sample_query", None)  # the description travels as the message text
    return _drop_none(body)


def input_audio_part(data: bytes, fmt: str) -> dict:
    return {"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode(), "format": fmt}}


def decode_data_url(url: str) -> tuple[bytes, str]:
    """`data:audio/mpeg;base64,....` -> (bytes, mime). Split on the first comma, base64 the rest."""
    head, sep, payload = url.partition(",")
    if not sep or not head.startswith("data:"):
        raise AceStepError("ACE-Step returned an audio URL that is not a data URL")
    try:
        return base64.b64decode(payload, validate=False), head[5:].split(";")[0] or "audio/mpeg"
    except (binascii.Error, ValueError) as exc:
        raise AceStepError(f"ACE-Step returned audio that is not valid base64: {exc}") from None


def completion_audio_url(response: dict) -> str:
    """`choices[0].message.audio[0].audio_url.url`, or a clear error when there is none."""
    try:
        audio = response["choices"][0]["message"].get("audio")
        url = audio[0]["audio_url"]["url"] if audio else None
    except (KeyError, IndexError, TypeError, AttributeError):
        url = None
    if not url:
        raise AceStepError("ACE-Step /v1/chat/completions returned no audio")
    return url


_META_LINE = re.compile(r"^\*\*(Caption|BPM|Duration|Key|Time Signature):\*\*\s*(.*?)\s*$", re.MULTILINE)


def parse_completion_content(content: str) -> dict[str, str]:
    """What the Markdown `content` says was used: caption, bpm, duration, key, time signature, lyrics."""
    found = {name.lower().replace(" ", "_"): value for name, value in _META_LINE.findall(content or "")}
    _, sep, lyrics = (content or "").partition("## Lyrics\n")
    if sep:
        found["lyrics"] = lyrics.strip()
    return found


def apply_random_sample(request: SongRequest, options: AceStepOptions,
                        sample: dict) -> tuple[SongRequest, AceStepOptions]:
    """Turn a /create_random_sample example into the request to generate.

    Custom examples bring caption, lyrics and metas; simple examples bring a description
    (simple mode) and maybe `instrumental`. The request's duration is kept: the examples'
    lengths (often minutes) would silently override what the user asked for.
    """
    update: dict[str, Any] = {}
    if sample.get("caption"):
        update["caption"] = str(sample["caption"])
        update["lyrics"] = str(sample.get("lyrics") or "")
    if sample.get("instrumental") is True:
        update["lyrics"] = "[inst]"
    bpm = as_int(sample.get("bpm"))
    if bpm and 30 <= bpm <= 300:
        update["bpm"] = bpm
    if sample.get("keyscale") or sample.get("key_scale"):
        update["key_scale"] = str(sample.get("keyscale") or sample.get("key_scale"))
    if str(sample.get("timesignature") or "") in ("2", "3", "4", "6"):
        update["time_signature"] = str(sample["timesignature"])
    language = sample.get("vocal_language") or sample.get("language")
    if language:
        update["language"] = str(language)
    option_update: dict[str, Any] = {"random_sample": False}
    if sample.get("description") and not sample.get("caption"):
        option_update["description"] = str(sample["description"])
    if isinstance(sample.get("think"), bool):
        option_update["thinking"] = sample["think"]
    # The request carries the options it was made with, so resubmitting it makes the same song.
    update["engine_options"] = {**request.engine_options, **option_update}
    return request.model_copy(update=update), options.model_copy(update=option_update)


def as_int(value: Any) -> int | None:
    """Metas numbers may be ints, numeric strings or 'N/A'."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def known(value: Any) -> str | None:
    """A metas string, or None for '', 'N/A', 'unknown' and friends."""
    text = str(value).strip() if value is not None else ""
    return None if text.upper() in ("", "N/A", "NA", "NONE", "NULL", "UNKNOWN") else text


def metas_of(entry: dict) -> dict[str, Any]:
    """bpm/key/time signature/duration from a result entry's `metas`, tolerating 'N/A'."""
    metas = entry.get("metas") if isinstance(entry.get("metas"), dict) else {}
    bpm = as_int(known(metas.get("bpm")))
    return {
        "bpm": bpm if bpm and 30 <= bpm <= 300 else None,
        "key_scale": known(metas.get("keyscale") or metas.get("key_scale")),
        "time_signature": known(metas.get("timesignature") or metas.get("time_signature")),
        "duration": _as_float(known(metas.get("duration"))),
    }


def seed_at(seed_value: Any, index: int) -> int | None:
    """The seed of audio `index` from `seed_value` ('4150490888,2445726091'; one per audio)."""
    seeds = [s.strip() for s in str(seed_value or "").split(",") if s.strip()]
    if not seeds:
        return None
    return as_int(seeds[min(index, len(seeds) - 1)])


# ---- what was sung, from either result shape ---------------------------------------------------------

#: Keys only the full result shape has (installed with diskcache, and every later release).
FULL_SHAPE_KEYS = ("seed_value", "generation_info", "dit_model", "lm_model")
_INSTRUMENTAL_WORDS = ("instrumental", "no vocals", "without vocals")


def full_shape(entry: dict) -> bool:
    """True for the disk cache's shape, where top-level prompt/lyrics are what was generated; False for the
    in-memory store's (no diskcache), where `prompt` is metas.caption and `lyrics` the request's input."""
    return any(key in entry for key in FULL_SHAPE_KEYS)


def vocals_expected(request: SongRequest, options: AceStepOptions) -> bool:
    """Whether the request asked for a song with vocals (lyrics given, or a description not asking for none)."""
    if options.description:
        return not any(word in options.description.lower() for word in _INSTRUMENTAL_WORDS)
    return not request.instrumental


def sung_text(entry: dict, request: SongRequest, options: AceStepOptions) -> tuple[str, str, list[str]]:
    """(caption, lyrics, warnings) of what one result entry says was sung.

    The full shape says it as is. The smaller one does not report what the LM wrote: its lyrics are the
    request's own (empty in description or random mode) and its prompt may be empty, so the caption falls
    back to the request's (or the description) and unknown lyrics stay empty, which the lyrics step reads
    as "unknown, transcribe them" rather than as an instrumental.
    """
    caption_given = request.caption or options.description or ""
    if full_shape(entry):
        caption = entry.get("prompt") if isinstance(entry.get("prompt"), str) else caption_given
        lyrics = entry.get("lyrics") if isinstance(entry.get("lyrics"), str) else request.lyrics
        return caption or caption_given, lyrics, []
    caption = str(entry.get("prompt") or "") or caption_given
    if options.description:
        unknown = ["ACE-Step did not report the lyrics its LM wrote (a server installed without diskcache gives "
                   "only the request's own): they are transcribed from the audio"]
        return caption, "", unknown if vocals_expected(request, options) else []
    return caption, request.lyrics, []
