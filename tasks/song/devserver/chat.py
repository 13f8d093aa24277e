"""The built-in server's `/v1/chat/completions` (contract §10): reading the messages, writing answers.

Pure functions: the route in devserver.server queues the job and waits. Text is read as
upstream does: `<prompt>`/`<lyrics>` tags first; else text that looks like lyrics becomes
the lyrics; else it is a sample query (the LM stand-in writes caption and lyrics).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from typing import Any

from mvflow.errors import ChatRequestError
from mvflow.song.devserver.jobs import SongPlan

TAG = re.compile(r"<(prompt|lyrics)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
LYRIC_MARKERS = ("[verse", "[chorus", "[bridge", "[intro", "[outro", "[hook", "[pre-chorus", "[refrain", "[inst")
EDIT_TASKS = ("cover", "repaint", "lego", "extract", "complete")
MIME = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "m4a": "audio/mp4",
        "aac": "audio/aac"}
PASSED_THROUGH = ("thinking", "guidance_scale", "use_format", "sample_mode", "task_type", "repainting_start",
                  "repainting_end", "audio_cover_strength", "use_cot_caption", "use_cot_language")


def user_parts(messages: Any) -> tuple[str, list[tuple[bytes, str]]]:
    """All text and input audio of the user messages (string content or typed parts)."""
    if not isinstance(messages, list):
        raise ChatRequestError("Invalid request format: messages must be a list")
    texts: list[str] = []
    audio: list[tuple[bytes, str]] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for part in parts:
            if isinstance(part, dict) and part.get("type") == "text":
                texts.append(str(part.get("text") or ""))
            elif isinstance(part, dict) and part.get("type") == "input_audio":
                audio.append(decode_input_audio(part.get("input_audio") or {}))
    return "\n".join(t for t in texts if t.strip()), audio


def decode_input_audio(spec: dict) -> tuple[bytes, str]:
    data = str(spec.get("data") or "")
    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        return base64.b64decode(data), str(spec.get("format") or "mp3")
    except (binascii.Error, ValueError):
        raise ChatRequestError("Invalid request format: input_audio data is not base64") from None


def looks_like_lyrics(text: str) -> bool:
    lowered = text.lower()
    if any(marker in lowered for marker in LYRIC_MARKERS):
        return True
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(lines) >= 4 and sum(map(len, lines)) / len(lines) < 60


def read_text(text: str, body: dict) -> dict[str, str]:
    """prompt / lyrics / sample_query from the message text (rules 1-4 of §10.1)."""
    if body.get("lyrics"):
        return {"prompt": text, "lyrics": str(body["lyrics"])}
    if body.get("sample_mode"):
        return {"sample_query": text}
    tags = TAG.findall(text)
    if tags:
        found = {name.lower(): value.strip() for name, value in tags}
        outside = TAG.sub(" ", text).strip()
        prompt = " ".join(p for p in (found.get("prompt", ""), outside) if p)
        return {"prompt": prompt, "lyrics": found.get("lyrics", "")}
    if looks_like_lyrics(text):
        return {"lyrics": text}
    return {"sample_query": text}


def chat_params(body: Any) -> tuple[dict[str, Any], list[tuple[bytes, str]]]:
    """A release-style parameter dict (canonical names) plus input audio from a chat request."""
    if not isinstance(body, dict) or not body.get("model") or "messages" not in body:
        raise ChatRequestError("Invalid request format: 'model' and 'messages' are required")
    text, audio = user_parts(body["messages"])
    config = body.get("audio_config") if isinstance(body.get("audio_config"), dict) else {}
    raw: dict[str, Any] = {**read_text(text, body), **{k: body[k] for k in PASSED_THROUGH if k in body}}
    if not any(raw.get(k) for k in ("prompt", "lyrics", "sample_query")) and not audio:
        raise ChatRequestError("No valid prompt, lyrics, sample query, or input audio found in request")
    if config.get("instrumental") and not raw.get("lyrics"):
        raw["lyrics"] = "[inst]"
    raw.update({
        "model": str(body["model"]).partition("/")[2] or str(body["model"]),
        "audio_duration": config.get("duration"), "audio_format": config.get("format") or "mp3",
        "vocal_language": config.get("vocal_language"), "bpm": config.get("bpm"),
        "key_scale": config.get("key_scale"), "time_signature": config.get("time_signature"),
        "batch_size": body.get("batch_size", 1), "inference_steps": 8,
        "seed": body.get("seed"), "use_random_seed": body.get("seed") is None,
    })
    return raw, audio


def metadata_markdown(plan: SongPlan, instrumental: bool) -> str:
    """The `content` of the answer: known metas, then the lyrics (left out for instrumentals)."""
    lines = [f"**Caption:** {plan.caption}"] if plan.caption else []
    lines += [f"**{name}:** {value}" for name, value in (
        ("BPM", plan.bpm), ("Duration", f"{plan.duration:.1f}s"), ("Key", plan.key_scale),
        ("Time Signature", plan.time_signature)) if value]
    text = "## Metadata\n" + "\n".join(lines) if lines else ""
    if plan.lyrics.strip() and not instrumental:
        text += ("\n\n" if text else "") + "## Lyrics\n" + plan.lyrics.strip()
    return text or "Music generated successfully."


def audio_item(data: bytes, fmt: str) -> dict:
    url = f"data:{MIME.get(fmt, 'audio/mpeg')};base64,{base64.b64encode(data).decode()}"
    return {"type": "audio_url", "audio_url": {"url": url}}


def completion(model: str, content: str, audio: list[dict] | None) -> dict:
    """The non-streaming answer (§10.2)."""
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "audio": audio},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


def chunk(chunk_id: str, model: str, delta: dict, finish: str | None = None) -> str:
    """One server-sent event of the streaming answer (§10.3), with Python's default separators."""
    body = {"id": chunk_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"
