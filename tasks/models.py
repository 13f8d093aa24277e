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


class SongIdea(BaseModel):
    """What the songwriting step is asked for: the idea, and the constraints the user gave.

    None means "not given": the songwriter chooses. Given values always win over the plan
    (`SongPlan` records which ones were given). Part of the plan's cache key.
    """

    idea: str = Field(description="What the song is about, e.g. 'a bittersweet folk song about leaving a small town'")
    title: str | None = None
    caption: str | None = Field(None, description="The style, when the user gave one (--caption)")
    mood: str | None = None
    vocal: str | None = Field(None, description="Vocal gender: 'female' or 'male'")
    instrumental: bool = False
    language: str | None = Field(None, description="Vocal language code, e.g. 'en'")
    duration: float | None = Field(None, gt=0, le=600)
    bpm: int | None = Field(None, ge=30, le=300)
    key_scale: str | None = None
    time_signature: str | None = None
    seed: int = Field(0, description="Same idea and seed, same plan (sent to servers that honour a seed)")

    def given(self) -> dict[str, object]:
        """The plan fields the user fixed, by their SongPlan name."""
        fields = {"title": self.title, "caption": self.caption, "language": self.language,
                  "duration": self.duration, "bpm": self.bpm, "key_scale": self.key_scale,
                  "time_signature": self.time_signature}
        return {name: value for name, value in fields.items() if value is not None}


class SongwriterOptions(BaseModel):
    """Who writes the plan, where, and from which prompt: part of the plan's cache key.

    Resolved before the flow runs (mvflow.songwriting.providers.songwriter_options), so the
    key names what really writes. `base_url` is the songwriter's server (an OpenAI-compatible
    endpoint, or the ACE-Step server whose LM writes; None = OpenAI's own API): a different
    server is a different writer. `key_from` names which configured key is sent (a
    KEY_ENV_VARS entry, or None for a server that needs none), never the key itself.
    `prompt` is a path to the user's own template, or "" for the bundled one; `prompt_sha256`
    (filled in) hashes the template's text, so editing it writes a new plan.
    """

    provider: str = Field("openai", description="openai | acestep")
    model: str = Field("", description="The chat model (openai) or the server's LM (acestep)")
    base_url: str | None = None
    key_from: str | None = Field(None, description="Which configured key is sent: openai, songwriter, acestep")
    prompt: str = Field("", description="Path of a prompt template of your own; '' = the bundled one")
    prompt_sha256: str = ""

    @model_validator(mode="after")
    def _hash_prompt(self) -> SongwriterOptions:
        if not self.prompt_sha256:
            from mvflow.songwriting.prompt import template_digest

            self.prompt_sha256 = template_digest(self.prompt)
        return self


class SongPlan(StepResult):
    """A validated song plan: what the song step will make, saved as plan.json + lyrics.txt.

    Values the user gave have already replaced the songwriter's (`given` names them).
    """

    idea: str
    title: str
    caption: str
    lyrics: str = Field(description="Tagged lyrics ([Verse], [Chorus]...); '[Instrumental]' for none")
    bpm: int
    key_scale: str
    time_signature: str
    duration: float
    language: str
    instrumental: bool = False
    provider: str
    model: str
    given: list[str] = Field(default_factory=list, description="Fields the user fixed (they won over the plan)")
    repaired: bool = Field(False, description="The first answer had problems; the repair round-trip fixed them")
    notes: list[str] = Field(default_factory=list, description="Warnings about the plan (it was still used)")
    plan_file: FileArtifact
    lyrics_file: FileArtifact

    def own_files(self) -> list[FileArtifact]:
        return [self.plan_file, self.lyrics_file]

    def song_lyrics(self) -> str:
        """What the song step sings: the lyrics, or '[Instrumental]' when nothing is sung."""
        return "[Instrumental]" if self.instrumental else self.lyrics

    def applied_to(self, request: SongRequest) -> SongRequest:
        """`request` with the plan's caption, lyrics and music parameters (the user's values are in the plan)."""
        return request.model_copy(update={
            "caption": self.caption, "lyrics": self.song_lyrics(), "duration": self.duration, "bpm": self.bpm,
            "key_scale": self.key_scale, "time_signature": self.time_signature, "language": self.language,
        })


class TakeScore(BaseModel):
    """How well a take's vocals carry the lyrics, from the lyric timing of that take."""

    lines: int = Field(description="Known lyric lines")
    placed: int = Field(description="Lines the timing placed (heard, aligned or estimated)")
    skipped: list[str] = Field(default_factory=list, description="Lines it did not sing or could not place")
    confidence: float = Field(description="Mean timing confidence over every known line (0 for a skipped one)")
    chosen: bool = False

    def rank_key(self) -> tuple[int, float]:
        """Fewest skipped lines first, then the highest confidence (smaller sorts first)."""
        return (len(self.skipped), -self.confidence)

    def summary(self) -> str:
        return f"{self.lines - len(self.skipped)}/{self.lines} lines, confidence {self.confidence:.2f}"


class Take(BaseModel):
    """One of several takes of the same request (`--takes N`): its audio and what was sung on it."""

    number: int = Field(description="1-based, in the order the engine made them")
    audio: FileArtifact
    caption: str
    lyrics: str
    duration: float
    seed: int | None = Field(None, description="The seed the engine reports for this take (None: not reported)")
    score: TakeScore | None = Field(None, description="Filled when the lyrics step compared the takes")


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
    seed: int | None = Field(None, description="The seed the engine used or reports (None: not reported)")
    seed_requested: int | None = Field(None, description="The seed asked for, when the engine may not honour it")
    warnings: list[str] = Field(default_factory=list, description="What the engine did differently than asked")
    vocals_expected: bool = Field(False, description="The request asked for a song with vocals")
    extra_files: list[FileArtifact] = Field(default_factory=list)
    takes: list[Take] = Field(default_factory=list, description="--takes: every take; `audio` is the chosen one")

    def own_files(self) -> list[FileArtifact]:
        return [self.audio, self.result, *self.extra_files]

    @property
    def seed_honoured(self) -> bool | None:
        """False when the engine reports another seed than the one asked; None when it cannot be told."""
        if self.seed_requested is None or self.seed is None:
            return None
        return self.seed == self.seed_requested


def _moved(t: float, offset: float, length: float | None) -> float:
    """t + offset kept inside [0, length] (no upper bound when length is None)."""
    t = max(0.0, t + offset)
    return t if length is None else min(length, t)


class LyricWord(BaseModel):
    text: str
    start: float
    end: float

    def shifted(self, offset: float, length: float | None = None) -> LyricWord:
        """This word `offset` seconds later (earlier if negative), its times kept inside [0, length]."""
        return self.model_copy(update={"start": _moved(self.start, offset, length),
                                       "end": _moved(self.end, offset, length)})


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

    def shifted(self, offset: float, length: float | None = None) -> LyricLine:
        """This line and its words `offset` seconds later (earlier if negative), every time kept
        inside [0, length]: a lyric offset (length None) or a clip's own clock (length: the clip's)."""
        return self.model_copy(update={"start": _moved(self.start, offset, length),
                                       "end": _moved(self.end, offset, length),
                                       "words": [w.shifted(offset, length) for w in self.words]})


class OutsideLine(BaseModel):
    """A timed lyric line that starts outside the song: after its end (so it never shows), or,
    once the offset is applied, before 0 (so it is moved to 0 and loses its start)."""

    text: str
    stamp: float = Field(description="Its start as timed (the file's stamp or the transcript), before the offset")
    start: float = Field(description="Its start with the offset applied: at or past the song's end, or below 0")
    where: Literal["after_end", "before_start"]


class SyncedLyrics(StepResult):
    """Timed lyric lines (and words) plus the files they were written to."""

    lines: list[LyricLine] = Field(default_factory=list)
    unplaced: list[str] = Field(default_factory=list, description="Known lines that could not be timed")
    unsung: list[str] = Field(default_factory=list, description="Known lines the audio shows were not sung")
    outside: list[OutsideLine] = Field(
        default_factory=list, description="Timed lines starting after the song ends, or before 0 by the offset")
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

    def describe(self, of: str = "") -> str:
        """'16.3-26.9 s (first full chorus)', for logs, the CLI and the run report; `of` goes after 's'."""
        return f"{self.start:.1f}-{self.end:.1f} s{of} ({self.reason})"


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
