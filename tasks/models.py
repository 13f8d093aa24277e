"""Small pydantic types passed between the flow's steps.

Steps exchange paths plus content hashes, never bytes: Prefect persists task results,
and a FileArtifact is what lets a cache hit be verified against the file on disk.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large videos do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class FileArtifact(BaseModel):
    """A file a step produced: where it is and what its bytes hash to."""

    path: str
    sha256: str
    size: int

    @classmethod
    def from_path(cls, path: Path | str) -> "FileArtifact":
        p = Path(path).resolve()
        return cls(path=str(p), sha256=sha256_of(p), size=p.stat().st_size)

    def is_intact(self) -> bool:
        """True when the file still exists with the bytes it had when the step made it."""
        p = Path(self.path)
        return p.is_file() and p.stat().st_size == self.size and sha256_of(p) == self.sha256


class StepResult(BaseModel, ABC):
    """What every step returns: a small model that names the files the step itself wrote.

    The flow verifies those files after a cache hit (mvflow.flows.steps), because Prefect never
    looks at files. Abstract, so a new step result cannot forget to say what its files are.
    """

    @abstractmethod
    def own_files(self) -> list[FileArtifact]:
        """The files this step wrote (not those of upstream steps it carries)."""


class SongRequest(BaseModel):
    """What to generate. Only fields that change the audio belong here (they are the song's cache key)."""

    caption: str = Field(description="Style/caption text, e.g. 'dreamy synthwave, female vocal'")
    lyrics: str = Field("", description="Lyrics with [Verse]/[Chorus]... tags; empty means instrumental")
    duration: float = Field(30.0, gt=0, le=600, description="Song length in seconds")
    bpm: int | None = Field(None, ge=30, le=300)
    key_scale: str | None = Field(None, description="e.g. 'A minor', 'F# major'")
    time_signature: str = Field("4", description="Beats per bar: '2', '3', '4' or '6' (also '4/4')")
    language: str = "en"
    seed: int = Field(0, description="Same seed, same song")
    engine: str = "local"
    engine_options: dict = Field(default_factory=dict)

    @property
    def instrumental(self) -> bool:
        text = self.lyrics.strip().lower()
        return text in ("", "[inst]", "[instrumental]")


class Song(StepResult):
    """The generated song and what was actually sung (the server may rewrite caption/lyrics)."""

    audio: FileArtifact
    result: FileArtifact = Field(description="Engine/server result saved as JSON")
    caption: str
    lyrics: str
    duration: float = Field(description="Measured length of the audio in seconds")
    bpm: int | None = None
    key_scale: str | None = None
    time_signature: str | None = None
    engine: str
    seed: int | None = None
    extra_files: list[FileArtifact] = Field(default_factory=list)

    def own_files(self) -> list[FileArtifact]:
        return [self.audio, self.result, *self.extra_files]


class LyricWord(BaseModel):
    text: str
    start: float
    end: float


#: Where a line's timing came from: the transcript heard its words; forced alignment of the known
#: words placed it (the audio supports it, less strongly); or it was estimated from where a voice
#: sings and the line's length (no evidence for its words).
LineSource = Literal["heard", "aligned", "estimated"]


class LyricLine(BaseModel):
    text: str
    start: float
    end: float
    words: list[LyricWord] = Field(default_factory=list)
    confidence: float | None = Field(None, ge=0, le=1, description="How sure the timing is (None: not measured)")
    source: LineSource | None = Field(None, description="heard | aligned | estimated (None: a user's own file)")


class SyncedLyrics(StepResult):
    """Timed lyric lines (and words) plus the files they were written to."""

    lines: list[LyricLine] = Field(default_factory=list)
    unplaced: list[str] = Field(default_factory=list, description="Known lines that could not be timed")
    unsung: list[str] = Field(default_factory=list, description="Known lines the audio shows were not sung")
    provider: str = ""
    source: str = Field("", description="'aligned' (known lyrics), 'transcript', 'user-lrc' or 'instrumental'")
    files: dict[str, FileArtifact] = Field(default_factory=dict)

    def own_files(self) -> list[FileArtifact]:
        return list(self.files.values())

    def count_by_source(self) -> dict[str, int]:
        """How many placed lines were heard, aligned and estimated (sources that occur)."""
        counts: dict[str, int] = {}
        for line in self.lines:
            if line.source is not None:
                counts[line.source] = counts.get(line.source, 0) + 1
        return counts

    def timing_summary(self) -> str:
        """One line for people: '12 heard, 3 aligned, 1 estimated, 1 unsung, 0 unplaced'."""
        counts = self.count_by_source()
        parts = [f"{counts.get(source, 0)} {source}" for source in ("heard", "aligned", "estimated")]
        return ", ".join([*parts, f"{len(self.unsung)} unsung", f"{len(self.unplaced)} unplaced"])


class Cover(StepResult):
    background: FileArtifact = Field(description="Video-aspect background, e.g. 1920x1080")
    square: FileArtifact = Field(description="1:1 cover art, e.g. 1024x1024")
    provider: str

    def own_files(self) -> list[FileArtifact]:
        return [self.background, self.square]


class SongSection(BaseModel):
    """A stretch of the song: its kind from the lyric sheet's tag ("chorus", "verse" ...; "" when
    found in the audio), when it starts and ends, and how much of it was sung and timed."""

    kind: str = ""
    label: str = ""
    start: float
    end: float
    lines: int = Field(0, description="Timed lyric lines sung in it")
    complete: bool = Field(True, description="Every line the sheet gives it was timed")
    energy: float = Field(0.0, description="Mean loudness in dB relative to the loudest section (0 = loudest)")


class SongAnalysis(StepResult):
    """Beats and sections of a song: what the render's motion and the short's cut follow.

    The per-frame envelopes (onset strength, loudness) are in `file` (analysis.json), not in
    the step's result, which Prefect persists and which stays small.
    """

    tempo: float = Field(description="Beats per minute, from the tracked beats")
    beats_per_bar: int
    beats: list[float] = Field(default_factory=list, description="Beat times, seconds")
    downbeats: list[float] = Field(default_factory=list, description="Bar lines (first beat of each bar), seconds")
    sections: list[SongSection] = Field(default_factory=list)
    sections_from: str = Field("", description="'lyrics' (the sheet's tags) or 'audio'")
    duration: float
    file: FileArtifact = Field(description="analysis.json: all of the above plus the envelopes")

    def own_files(self) -> list[FileArtifact]:
        return [self.file]


class Clip(BaseModel):
    """The part of the song an output shows (a short), in seconds of the song.

    The music chosen is [phrase_start, phrase_end] (bar lines); the clip adds `fade_in` before
    and `fade_out` after it, where sound and picture fade from and to black.
    """

    start: float
    end: float
    phrase_start: float
    phrase_end: float
    fade_in: float = 0.0
    fade_out: float = 0.0
    reason: str = Field("", description="why this part: 'first full chorus', 'loudest section', 'chosen by hand'")

    @property
    def duration(self) -> float:
        return self.end - self.start


class RenderOptions(BaseModel):
    """How the render step draws the video (its cache key: style file content included)."""

    width: int = 1920
    height: int = 1080
    fps: int = 30
    style: str = Field("classic", description="bundled style name or path to a style .toml")
    overrides: dict[str, str | float | bool] = Field(
        default_factory=dict, description="style keys set by options, e.g. {'visualiser.kind': 'bars'}")
    style_sha256: str = Field("", description="hash of the style's TOML text (filled in): edits re-render")
    codec: str = Field("h264", description="h264 (MP4) | h265 (MP4, hvc1) | vp9 (WebM with Opus)")
    quality: str = Field("standard", description="draft | standard | high")
    max_size_mb: float | None = Field(None, gt=0, description="Two-pass to fit this many MB (10^6 bytes)")
    short_from: float | None = Field(None, ge=0, description="The short's start in the song, by hand (seconds)")
    short_to: float | None = Field(None, gt=0, description="The short's end in the song, by hand (seconds)")

    @model_validator(mode="after")
    def _hash_style(self) -> RenderOptions:
        if not self.style_sha256:
            from mvflow.render.style_loader import style_digest

            self.style_sha256 = style_digest(self.style)
        return self


class MusicVideo(StepResult):
    video: FileArtifact
    title: str
    song: Song
    lyrics: SyncedLyrics
    cover: Cover
    output: str = Field("full", description="full | short | square (mvflow.render.outputs)")
    width: int = 0
    height: int = 0
    clip: Clip | None = Field(None, description="The part of the song a short shows (None: all of it)")
    analysis: SongAnalysis | None = None

    def own_files(self) -> list[FileArtifact]:
        """Only the MP4: the upstream files are verified by their own steps."""
        return [self.video]


class LyricsOptions(BaseModel):
    """How the lyrics step times the words (part of its cache key)."""

    transcriber: str = Field("auto", description="auto | elevenlabs | openai | local")
    whisper_model: str | None = Field(None, description="faster-whisper model name or folder; None = bundled tiny.en")
    language: str = "en"
    offset: float = Field(0.0, description="Seconds added to every time stamp: positive = lyrics later")
    lrc: FileArtifact | None = Field(None, description="The user's own LRC: used as is, no transcription")


class CoverOptions(BaseModel):
    """How the thumbnail step makes the cover (part of its cache key; never holds keys or URLs)."""

    provider: str = Field("local", description="local | gemini | image (the user's own picture)")
    width: int = 1920
    height: int = 1080
    square_size: int = 1024
    model: str | None = Field(None, description="Gemini image model; None = the default with fallbacks")
    prompt: str | None = Field(None, description="Replaces the prompt built from caption and title")
    fallback: str | None = Field(None, description="'local': use the procedural cover if the provider fails")
    image: FileArtifact | None = Field(None, description="The user's own cover image (provider 'image')")
    fit: str = Field("crop", description="crop (fill the frame) or fit (letterbox over a blurred copy)")
