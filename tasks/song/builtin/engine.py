"""The built-in offline song engine `local`: a request in, song.wav + result.json + placement.json out.

It needs no server, no GPU and no network: a procedural band (numpy) plays a chord
progression per section in the requested key, tempo and meter, and an espeak-ng voice sings
the lyrics on the beat grid. It is deterministic: the same request gives the same bytes.

    generate_local_song(request, out_dir) -> Song

placement.json records where every sung line and word was placed. It exists for tests and
benchmarks only (the lyrics step must find the lines by listening, like it does for any engine).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mvflow.audio import audio_duration, write_wav
from mvflow.files import write_json_atomic
from mvflow.models import FileArtifact, Song, SongRequest
from mvflow.song.builtin.arrange import Arrangement, arrange
from mvflow.song.builtin.backing import render_backing
from mvflow.song.builtin.harmony import Harmony, chord_name, plan_harmony
from mvflow.song.builtin.mixdown import Mix, mixdown
from mvflow.song.builtin.params import SongParams, resolve_params, rng_for
from mvflow.song.builtin.vocals import Singer, SungLine, sing
from mvflow.song.structure import parse_lyrics
from mvflow.song.theory import SAMPLE_RATE as SR

ENGINE_NAME = "local"
#: Longest outro fade, seconds (long outros fade only over their end).
MAX_FADE_S = 6.0
#: Shortest fade, seconds, even when the lyrics fill the song to its last bar.
MIN_FADE_S = 0.5

_GENRES = ("pop", "rock", "synthwave", "synthpop", "electronic", "edm", "house", "techno", "hip hop", "hip-hop",
           "rap", "r&b", "soul", "funk", "jazz", "blues", "folk", "country", "indie", "ballad", "metal", "punk",
           "reggae", "disco", "lofi", "lo-fi", "ambient", "dance", "trance", "classical", "acoustic", "gospel",
           "k-pop", "j-pop", "j-rock", "latin", "waltz")


@dataclass
class RenderedSong:
    """Everything the engine made, in memory, before anything is written."""

    params: SongParams
    arrangement: Arrangement
    harmony: Harmony
    mix: Mix
    lines: list[SungLine]
    fade_start_s: float


def genres_of(caption: str) -> str:
    """ACE-Step-style genre string: known genre words of the caption, else its first phrase."""
    low = caption.lower()
    found = [g for g in _GENRES if re.search(rf"(?<![a-z]){re.escape(g)}(?![a-z])", low)]
    if found:
        return ", ".join(found)
    first = caption.split(",")[0].strip()
    return first or "N/A"


def fade_start(arrangement: Arrangement, params: SongParams, duration: float) -> float:
    """Where the outro fade begins: the outro's start, but at most MAX_FADE_S before the end."""
    outro = arrangement.blocks[-1]
    start = params.grid.bar_time(outro.start_bar)
    if duration - start < MIN_FADE_S:  # lyrics fill the song to its last bar: fade the very end anyway
        return max(0.0, duration - MIN_FADE_S)
    return max(start, duration - MAX_FADE_S)


def render_song(request: SongRequest) -> RenderedSong:
    """Arrange, play, sing and master the request, all in memory."""
    params = resolve_params(request)
    grid = params.grid
    n_samples = int(round(request.duration * SR))
    singer = Singer(params.voice, grid)
    sections = [] if request.instrumental else parse_lyrics(request.lyrics)
    total_bars = int(request.duration / grid.bar_s + 1e-9)
    partial = request.duration - total_bars * grid.bar_s > 1e-6
    arrangement = arrange(sections, singer.line_needs, total_bars, partial)
    harmony = plan_harmony(arrangement, params.key, rng_for(params.seed, "harmony"))
    backing = render_backing(arrangement, grid, harmony, n_samples, rng_for(params.seed, "drums"))
    voice, lines = sing(arrangement, singer, harmony, params.seed, n_samples)
    fade_s = fade_start(arrangement, params, request.duration)
    mix = mixdown(voice, backing, lines, fade_s)
    return RenderedSong(params=params, arrangement=arrangement, harmony=harmony, mix=mix, lines=lines,
                        fade_start_s=fade_s)


def arrangement_summary(song: RenderedSong, duration: float) -> list[dict]:
    """Sections with start/end seconds, bars and chord names, as result.json reports them."""
    grid = song.params.grid
    sections = []
    for block in song.arrangement.blocks:
        end_bar = block.start_bar + block.bars
        is_last = block is song.arrangement.blocks[-1]
        sections.append({
            "kind": block.kind,
            "label": block.label,
            "start": round(grid.bar_time(block.start_bar), 4),
            "end": round(duration if is_last else grid.bar_time(end_bar), 4),
            "bars": block.bars,
            "sung_lines": len(block.lines),
            "chords": [chord_name(song.harmony.key, song.harmony.root_at_bar(bar))
                       for bar in range(block.start_bar, end_bar)],
        })
    return sections


def result_record(request: SongRequest, song: RenderedSong) -> dict:
    """result.json: every parameter actually used, ACE-Step-like metas, and what was (not) sung."""
    p = song.params
    time_signature = str(p.grid.meter.beats)
    return {
        "engine": ENGINE_NAME,
        "caption": request.caption,
        "lyrics": request.lyrics,
        "duration": request.duration,
        "bpm": p.bpm,
        "key_scale": p.key.name,
        "time_signature": time_signature,
        "meter": p.grid.meter.label,
        "seed": p.seed,
        "voice": p.voice,
        "language": request.language,
        "sample_rate": SR,
        "channels": 2,
        "bar_seconds": round(p.grid.bar_s, 6),
        "word_grid_seconds": round(p.grid.step_s, 6),
        "fade_start": round(song.fade_start_s, 4),
        "metas": {"bpm": p.bpm, "duration": request.duration, "keyscale": p.key.name,
                  "timesignature": time_signature, "genres": genres_of(request.caption)},
        "arrangement": {"bars": sum(block.bars for block in song.arrangement.blocks),
                        "sections": arrangement_summary(song, request.duration)},
        "sung_lines": len(song.lines),
        "unsung_lines": song.arrangement.unsung_lines,
    }


def generate_local_song(request: SongRequest, out_dir: Path) -> Song:
    """Render the request into `out_dir` (song.wav, result.json, placement.json) and describe it as a Song.

    engine_options["stems"] = True also writes voice.wav and backing.wav (the two halves of
    the master, same gain), for karaoke or for checking the mix.
    """
    out_dir = Path(out_dir)
    song = render_song(request)
    audio_path = out_dir / "song.wav"
    write_wav(audio_path, song.mix.master, SR)
    result = write_json_atomic(out_dir / "result.json", result_record(request, song))
    extra = [write_json_atomic(out_dir / "placement.json", [line.as_dict() for line in song.lines])]
    if request.engine_options.get("stems"):
        for name, samples in (("voice", song.mix.voice), ("backing", song.mix.backing)):
            write_wav(out_dir / f"{name}.wav", samples, SR)
            extra.append(FileArtifact.from_path(out_dir / f"{name}.wav"))
    p = song.params
    return Song(
        audio=FileArtifact.from_path(audio_path), result=result, caption=request.caption, lyrics=request.lyrics,
        duration=audio_duration(audio_path), bpm=p.bpm, key_scale=p.key.name,
        time_signature=str(p.grid.meter.beats), engine=ENGINE_NAME, seed=p.seed, extra_files=extra,
    )

