"""The built-in offline song engine `local`: a request in, song.wav + result.json + placement.json out.

It needs no server, no GPU and no network: a procedural band (numpy) plays a chord
progression per section in the requested key, tempo and meter, and an espeak-ng voice sings
the lyrics on the beat grid. It is deterministic: the same request gives the same bytes.

    generate_local_song(request, out_dir) -> Song

placement.json records where every sung line and word was placed: per line its text, its
number on the lyric sheet, start and end; per word its onset (`start`, when it starts
sounding) and `end` (and, when sung, its `notes` as [start, end, MIDI]). It exists for tests
and benchmarks only (the lyrics step must find the lines by listening, like it does for any engine).

Options (`SongRequest.engine_options`, checked by options.BuiltinOptions; a bad one is a
one-line PermanentError, an unknown key too):

* `voice`: an espeak-ng voice ("en-us+f3"); default the language's voice with a steady variant.
* `vocal_style`: "spoken" (default) puts each espeak word on a fine grid step, retuned to one
  note and held a little: clean and easy to transcribe. "sung" (singing.py) holds each word
  over one to three eighth notes at its own melody note, with a scoop into it, portamento
  between notes, delayed vibrato (5-6 Hz, +-30-60 cents), melismas (a line's last word and some
  long words over two or three notes) and a singing envelope.
* `mix`: "light" (default) ducks a soft band 12 dB under a dry, centred voice. "dense"
  (dense.py) ducks nothing: the band is as loud as the voice over the sung lines, a sawtooth
  lead and a bright pad play in the voice's range, a short room reverb (RT60 0.4-0.8 s) covers
  the whole mix, and the stereo image is spread (voice, kick, snare, bass centred). result.json
  reports the measured `voice_to_backing_db` and the room's `reverb_rt60_s`.
* `voice_to_backing_db` (dense only, default 0): the voice's RMS over the band's on sung lines.
* `skip_lines`: lyric line numbers (1-based, counting the sheet's lines with words, tags not
  counted) that the singer skips: their bars are played, nobody sings; result.json lists them
  in `unsung_lines` like the lines under [Instrumental] tags, and placement.json leaves them out.
* `stems`: also write voice.wav and backing.wav (the two halves of the master, same gain; in
  the dense mix both carry the room), and for the dense mix voice_dry.wav (the voice before the room).

The defaults render exactly what the engine rendered before these options existed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvflow.audio import audio_duration, write_wav
from mvflow.errors import PermanentError
from mvflow.files import write_json_atomic
from mvflow.models import FileArtifact, Song, SongRequest
from mvflow.song.builtin.arrange import Arrangement, arrange
from mvflow.song.builtin.backing import render_backing
from mvflow.song.builtin.dense import dense_mixdown, render_dense_backing
from mvflow.song.builtin.harmony import Harmony, chord_name, plan_harmony
from mvflow.song.builtin.mixdown import Mix, mixdown
from mvflow.song.builtin.params import SongParams, resolve_params, rng_for
from mvflow.song.builtin.singing import SungSinger, sing_line_sung
from mvflow.song.builtin.vocals import Singer, SungLine, sing
from mvflow.song.structure import Section, parse_lyrics
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
    #: Dense mix only: the voice before the room, the measured voice/band balance and the room's RT60.
    voice_dry: np.ndarray | None = None
    voice_to_backing_db: float | None = None
    reverb_rt60_s: float | None = None
    echo_s: float | None = None


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


def check_skip_lines(sections: list[Section], skip: list[int]) -> None:
    """Every skipped line must exist: numbers count the sheet's lines with words (PermanentError otherwise)."""
    count = sum(len(section.lines) for section in sections)
    missing = [n for n in skip if n > count]
    if missing:
        raise PermanentError(f"bad built-in engine option skip_lines: line {missing[0]} does not exist "
                             f"(the lyrics have {count} lines with words)")


def render_song(request: SongRequest) -> RenderedSong:
    """Arrange, play, sing and master the request, all in memory."""
    params = resolve_params(request)
    options = params.options
    grid = params.grid
    n_samples = int(round(request.duration * SR))
    sung = options.vocal_style == "sung"
    singer = SungSinger(params.voice, grid, params.seed) if sung else Singer(params.voice, grid)
    sections = [] if request.instrumental else parse_lyrics(request.lyrics)
    check_skip_lines(sections, options.skip_lines)
    total_bars = int(request.duration / grid.bar_s + 1e-9)
    partial = request.duration - total_bars * grid.bar_s > 1e-6
    arrangement = arrange(sections, singer.line_needs, total_bars, partial, skip=frozenset(options.skip_lines))
    harmony = plan_harmony(arrangement, params.key, rng_for(params.seed, "harmony"))
    fade_s = fade_start(arrangement, params, request.duration)
    if options.mix == "light":
        backing = render_backing(arrangement, grid, harmony, n_samples, rng_for(params.seed, "drums"))
        voice, lines = sing(arrangement, singer, harmony, params.seed, n_samples, sing_line_sung if sung else None)
        return RenderedSong(params=params, arrangement=arrangement, harmony=harmony,
                            mix=mixdown(voice, backing, lines, fade_s), lines=lines, fade_start_s=fade_s)
    voice, lines = sing(arrangement, singer, harmony, params.seed, n_samples, sing_line_sung if sung else None)
    backing = render_dense_backing(arrangement, grid, harmony, n_samples, rng_for(params.seed, "drums"),
                                   singer.register(harmony), lines, rng_for(params.seed, "lead"))
    dense = dense_mixdown(voice, backing, lines, fade_s, options.voice_to_backing_db, grid.beat_s,
                          rng_for(params.seed, "room"))
    return RenderedSong(params=params, arrangement=arrangement, harmony=harmony, mix=dense.mix, lines=lines,
                        fade_start_s=fade_s, voice_dry=dense.voice_dry, voice_to_backing_db=dense.voice_to_backing_db,
                        reverb_rt60_s=dense.rt60_s, echo_s=dense.echo_s)


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
        **style_record(song),
    }


def style_record(song: RenderedSong) -> dict:
    """result.json's record of the non-default options (nothing for a default request, so its file stays as it was)."""
    options = song.params.options
    record: dict = {}
    if options.vocal_style != "spoken":
        record["vocal_style"] = options.vocal_style
    if options.mix != "light":
        record["mix"] = options.mix
        level = song.voice_to_backing_db
        record["voice_to_backing_db"] = round(level, 2) + 0.0 if level is not None and np.isfinite(level) else None
        record["reverb_rt60_s"] = round(song.reverb_rt60_s or 0.0, 3)
        record["vocal_echo_s"] = round(song.echo_s or 0.0, 4)
    if options.skip_lines:
        record["skip_lines"] = options.skip_lines
    return record


def generate_local_song(request: SongRequest, out_dir: Path) -> Song:
    """Render the request into `out_dir` (song.wav, result.json, placement.json) and describe it as a Song.

    engine_options["stems"] = True also writes voice.wav and backing.wav (the two halves of
    the master, same gain), for karaoke or for checking the mix, and with the dense mix
    voice_dry.wav (the voice before the room, same gain).
    """
    out_dir = Path(out_dir)
    song = render_song(request)
    audio_path = out_dir / "song.wav"
    write_wav(audio_path, song.mix.master, SR)
    result = write_json_atomic(out_dir / "result.json", result_record(request, song))
    extra = [write_json_atomic(out_dir / "placement.json", [line.as_dict() for line in song.lines])]
    if song.params.options.stems:
        stems = [("voice", song.mix.voice), ("backing", song.mix.backing)]
        if song.voice_dry is not None:
            stems.append(("voice_dry", song.voice_dry))
        for name, samples in stems:
            write_wav(out_dir / f"{name}.wav", samples, SR)
            extra.append(FileArtifact.from_path(out_dir / f"{name}.wav"))
    p = song.params
    return Song(
        audio=FileArtifact.from_path(audio_path), result=result, caption=request.caption, lyrics=request.lyrics,
        duration=audio_duration(audio_path), bpm=p.bpm, key_scale=p.key.name,
        time_signature=str(p.grid.meter.beats), engine=ENGINE_NAME, seed=p.seed, extra_files=extra,
    )

