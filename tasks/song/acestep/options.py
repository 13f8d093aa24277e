"""Options of the `acestep` song engine, carried in `SongRequest.engine_options`.

They are split in two on purpose: fields that change the audio (mode, model, batch,
task type, source audio...) belong to the song's cache key; fields that only say how
to talk to the server (timeouts, poll pacing, which audio of the batch to use) must
not, or raising `--timeout` would generate the song again. `submission_request` strips
the second kind. The API key is never an option: it is read from the environment at
call time (mvflow.settings.api_key), so it never reaches a cache key or a result file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mvflow.errors import PermanentError, validation_line
from mvflow.models import SongRequest, sha256_of
from mvflow.song.acestep.client import DEFAULT_MAX_DOWNLOAD_MB

DEFAULT_API_URL = "http://127.0.0.1:8001"

#: Options that never change the audio: excluded from the submit step's cache key.
RUNTIME_FIELDS = frozenset(
    {"timeout", "poll_interval", "poll_max_interval", "lost_after", "stalled_after", "stalled_limit",
     "http_timeout", "download_timeout", "retry_delay", "submit_retries", "pick", "max_download_mb",
     "gateway_retries", "gateway_retry_delay", "api_urls"}
)

#: Task types that edit a source audio instead of generating from text.
EDIT_TASKS = ("cover", "repaint")
#: Audio formats every ACE-Step 1.5 server saves; the others need a later release (f30aee4 saves them as FLAC).
CLASSIC_FORMATS = ("mp3", "wav", "flac")
AudioFormat = Literal["mp3", "wav", "flac", "opus", "aac", "wav32"]
#: The file suffix each audio_format gets (wav32 is a 32-bit float .wav).
FORMAT_SUFFIX = {"wav32": ".wav"}


def format_suffix(fmt: str) -> str:
    """The file suffix the server gives an audio_format ('.mp3'; wav32 is a '.wav')."""
    return FORMAT_SUFFIX.get(fmt, f".{fmt}")

#: What the server reads as a time signature ("6" means 6/8), from what users type.
TIME_SIGNATURES = {"2": "2", "3": "3", "4": "4", "6": "6", "2/4": "2", "3/4": "3", "4/4": "4", "6/8": "6"}


def normalize_time_signature(value: str | None) -> str | None:
    """'4/4' -> '4', '6/8' -> '6'; None/'' stays None. Anything the server cannot read is a user error."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().replace(" ", "")
    if text not in TIME_SIGNATURES:
        raise PermanentError(
            f"time signature {value!r} is not one ACE-Step knows: use 2, 3, 4 or 6 (also 2/4, 3/4, 4/4, 6/8)"
        )
    return TIME_SIGNATURES[text]


class AceStepOptions(BaseModel):
    """Everything a user can ask of ACE-Step beyond the SongRequest's own fields."""

    model_config = ConfigDict(extra="forbid")

    api_url: str = Field(DEFAULT_API_URL, description="Base URL of the ACE-Step server (local or hosted)")
    api_urls: list[str] = Field(
        default_factory=list, description="Several interchangeable servers (a pool): each song goes to one "
        "with a free slot, so none of them names the song")
    api_mode: Literal["native", "completion"] = Field(
        "native", description="native: /release_task + /query_result; completion: /v1/chat/completions")
    thinking: bool = Field(True, description="Let the 5Hz LM write audio codes (better songs; needs the LM)")
    use_format: bool = Field(False, description="Let the LM rewrite caption/lyrics and fill bpm/key/duration")
    description: str | None = Field(
        None, description="Simple mode: the LM writes caption and lyrics from this description")
    random_sample: bool = Field(False, description="Ask the server for a random example, then generate it")
    sample_type: Literal["custom_mode", "simple_mode"] = Field(
        "custom_mode", description="Random mode: custom_mode gives caption+lyrics, simple_mode a description")
    model: str | None = Field(None, description="DiT model name (None = the server's primary model)")
    batch_size: int = Field(1, ge=1, le=8, description="Audios generated; all are saved")
    takes: int | None = Field(None, ge=2, le=8, description="Generate this many takes and keep the one whose "
                                                          "vocals carry the lyrics best (all are saved)")
    audio_format: AudioFormat = Field("mp3", description="opus, aac and wav32 need a later ACE-Step release")
    inference_steps: int | None = Field(None, ge=1, le=200)
    guidance_scale: float | None = Field(None, ge=0)
    task_type: Literal["text2music", "cover", "repaint"] = "text2music"
    src_audio: str | None = Field(None, description="Local audio file uploaded as the cover/repaint source")
    src_audio_sha256: str | None = Field(None, description="Pins src_audio's bytes into the cache key")
    reference_audio: str | None = Field(None, description="Local audio file uploaded as a style reference")
    reference_audio_sha256: str | None = None
    repainting_start: float | None = Field(None, ge=0)
    repainting_end: float | None = Field(None, description="Seconds; None or -1 = to the end")
    audio_cover_strength: float | None = Field(None, ge=0, le=1)
    repaint_mode: Literal["conservative", "balanced", "aggressive"] | None = Field(
        None, description="How much of the source a repaint keeps (later ACE-Step releases)")
    repaint_strength: float | None = Field(None, ge=0, le=1, description="balanced repaint: 0 keeps, 1 replaces")
    lora: str | None = Field(None, description="LoRA adapter on the server (its path there), loaded before the "
                                               "song; 'NAME:SCALE' also sets its scale (later ACE-Step releases)")
    lora_scale: float | None = Field(None, ge=0, le=1, description="The LoRA adapter's strength, 0-1")
    # --- runtime only (RUNTIME_FIELDS): how to talk to the server, not what to make ---
    pick: int = Field(1, ge=1, description="Which audio of the batch the video uses (1-based)")
    timeout: float = Field(1800.0, gt=0, description="Overall deadline for one job, seconds")
    poll_interval: float = Field(2.0, gt=0, description="First pause between /query_result polls")
    poll_max_interval: float = Field(10.0, gt=0, description="Polling backs off up to this pause")
    lost_after: float = Field(
        120.0, gt=0, description="A task answering status 0 with '[]' this long is lost (server restarted)")
    stalled_after: float = Field(
        60.0, gt=0, description="A running task whose stage and progress stay the same this long is checked "
                                "against /v1/stats: if the server runs and queues nothing, the task is lost")
    stalled_limit: float = Field(
        900.0, gt=0, description="A running task that stays the same this long is lost even on a busy server")
    http_timeout: float = Field(60.0, gt=0, description="Timeout of one HTTP request (not of the job)")
    download_timeout: float = Field(600.0, gt=0, description="Deadline for one whole audio download")
    retry_delay: float = Field(1.0, ge=0, description="First backoff after a 429 on submit; doubles")
    submit_retries: int = Field(5, ge=0, description="429 answers tolerated on one submit")
    max_download_mb: float = Field(DEFAULT_MAX_DOWNLOAD_MB, gt=0,
                                   description="Largest audio file accepted from the server, MB")
    gateway_retries: int = Field(2, ge=0, le=10, description="Completion mode: times a proxy's 504 (not the "
                                                             "server's own generation timeout) is retried")
    gateway_retry_delay: float = Field(10.0, ge=0, description="First pause after a proxy's 504; doubles")

    @model_validator(mode="before")
    @classmethod
    def _lora_scale_from_name(cls, data: object) -> object:
        """'--lora NAME:0.7' is the adapter NAME at scale 0.7 (a ':' not followed by a number is part of NAME)."""
        if isinstance(data, dict) and isinstance(data.get("lora"), str) and data.get("lora_scale") is None:
            name, sep, tail = data["lora"].rpartition(":")
            try:
                scale = float(tail) if sep and name else None
            except ValueError:
                scale = None
            if scale is not None:
                return {**data, "lora": name, "lora_scale": scale}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> AceStepOptions:
        if self.takes is not None:
            if self.batch_size not in (1, self.takes):
                raise ValueError(f"takes {self.takes} and batch_size {self.batch_size}: give one of them")
            if self.pick != 1:
                raise ValueError("takes choose the take themselves: leave out pick")
            self.batch_size = self.takes
        if self.pick > self.batch_size:
            raise ValueError(f"pick {self.pick} is larger than batch_size {self.batch_size}")
        if self.task_type in EDIT_TASKS and not self.src_audio:
            raise ValueError(f"task_type {self.task_type} needs src_audio (--src-audio FILE)")
        if (self.repaint_mode or self.repaint_strength is not None) and self.task_type != "repaint":
            raise ValueError("repaint_mode and repaint_strength are for --task-type repaint")
        if self.lora_scale is not None and not self.lora:
            raise ValueError("lora_scale needs lora (--lora NAME[:SCALE])")
        return self

    def newer_features(self) -> list[str]:
        """What this request asks that only later ACE-Step releases do, as the user would name it."""
        wanted = []
        if self.audio_format not in CLASSIC_FORMATS:
            wanted.append(f"--audio-format {self.audio_format}")
        if self.repaint_mode or self.repaint_strength is not None:
            wanted.append("--repaint-mode/--repaint-strength")
        if self.lora:
            wanted.append("--lora")
        return wanted

    @classmethod
    def from_request(cls, request: SongRequest) -> AceStepOptions:
        """The request's engine options, validated; a bad option is one clear PermanentError line."""
        try:
            return cls.model_validate(request.engine_options)
        except ValidationError as exc:
            raise PermanentError(validation_line(exc, "bad ACE-Step option {where}: {message}", "engine_options")) \
                from exc

    def has_uploads(self) -> bool:
        """True when the request sends audio files (a cover/repaint source, a style reference)."""
        return bool(self.reference_audio or (self.src_audio and self.task_type in EDIT_TASKS))

    def upload_files(self) -> dict[str, Path]:
        """Multipart file parts to send, by the server's field name; checked to exist and unchanged."""
        files = {}
        for part, path, pinned in (("src_audio", self.src_audio, self.src_audio_sha256),
                                   ("reference_audio", self.reference_audio, self.reference_audio_sha256)):
            if path is None or (part == "src_audio" and self.task_type not in EDIT_TASKS):
                continue
            file = Path(path).expanduser()
            if not file.is_file():
                raise PermanentError(f"{part.replace('_', ' ')} file not found: {path}")
            if pinned and sha256_of(file) != pinned:
                raise PermanentError(f"{path} changed since the request was made; run the command again")
            files[part] = file
        return files

    def pinned(self) -> AceStepOptions:
        """A copy whose uploads carry their sha256, so new bytes under the same name mean a new song."""
        update = {}
        for name in ("src_audio", "reference_audio"):
            path = getattr(self, name)
            if path and Path(path).expanduser().is_file():
                update[f"{name}_sha256"] = sha256_of(Path(path).expanduser())
        return self.model_copy(update=update)


def submission_request(request: SongRequest) -> SongRequest:
    """The request without runtime-only options: what the cached submit step should be keyed on.

    In a pool (`api_urls`) the servers are interchangeable, so which one it went to is runtime too."""
    runtime = RUNTIME_FIELDS | ({"api_url"} if request.engine_options.get("api_urls") else set())
    options = {k: v for k, v in request.engine_options.items() if k not in runtime}
    return request.model_copy(update={"engine_options": options})
