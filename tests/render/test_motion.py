"""Motion from the music, on pixels: the picture pulses at a beat and not between beats, bar lines
pulse stronger, the visualiser glows, a chorus shifts colour, a line rises onto its first word, a
short fades in and out; and each effect's `none` turns it off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mvflow.audio import write_wav
from mvflow.models import Clip, FileArtifact, LyricLine, RenderOptions, SongAnalysis, SongSection
from mvflow.render.layout import Layout
from mvflow.render.motion import MotionSpec, MusicTimes, pulse_levels
from mvflow.render.style_loader import load_style
from mvflow.render.video import Music, build_scene, render_music_video
from tests.support.media import video_frames

W, H, FPS = 320, 180, 30
RATE = 44100
SECONDS = 6.0
BEAT = 0.5  # 120 bpm: beats on whole frames (every 15th)
OFF = {"motion.beat": "none", "motion.downbeat": "none", "motion.section": "none", "motion.entrance": "none"}


def click_song(path: Path) -> Path:
    """A click on every beat over a quiet hum: bars jump on the beats."""
    t = np.arange(int(SECONDS * RATE)) / RATE
    audio = 0.05 * np.sin(2 * np.pi * 110 * t)
    for beat in np.arange(0, SECONDS, BEAT):
        i = int(beat * RATE)
        audio[i : i + 2000] += 0.8 * np.exp(-np.arange(2000) / 300) * np.sin(2 * np.pi * 60 * np.arange(2000) / RATE)
    write_wav(path, audio, RATE)
    return path


def grid_analysis(sections: list[SongSection] | None = None) -> SongAnalysis:
    beats = [round(b, 3) for b in np.arange(0, SECONDS, BEAT)]
    return SongAnalysis(tempo=120.0, beats_per_bar=4, beats=beats, downbeats=beats[::4],
                        sections=sections or [SongSection(kind="verse", start=0.0, end=SECONDS)],
                        sections_from="lyrics", duration=SECONDS,
                        file=FileArtifact(path="/nonexistent/analysis.json", sha256="0" * 64, size=0))


def cover(path: Path) -> Path:
    Image.new("RGB", (320, 180), (40, 60, 140)).save(path)
    return path


def frames_of(tmp_path: Path, overrides: dict | None = None, analysis: SongAnalysis | None = None,
              lines: list[LyricLine] | None = None) -> np.ndarray:
    """Every frame of a rendered (and decoded) MP4 as (n, H, W, 3)."""
    out = tmp_path / f"v{len(list(tmp_path.glob('v*.mp4')))}.mp4"
    options = RenderOptions(width=W, height=H, fps=FPS, overrides=overrides or {})
    render_music_video(click_song(tmp_path / "song.wav"), lines or [], cover(tmp_path / "c.png"), "", out, options,
                       analysis=analysis or grid_analysis())
    return video_frames(out, size=(W, H)).astype(np.float32)


def backdrop_luma(frame: np.ndarray) -> float:
    """Mean brightness of an area only the backdrop covers (between the title and the lyric box)."""
    return float(frame[10:40, 200:300].mean())


def test_a_section_flashes_on_its_first_beat(tmp_path):
    sections = [SongSection(kind="verse", start=0.0, end=2.0), SongSection(kind="verse", start=2.0, end=SECONDS)]
    moving = frames_of(tmp_path, {"motion.section_amount": 0.0}, grid_analysis(sections))
    still = frames_of(tmp_path, OFF, grid_analysis(sections))
    first, between = int(2.0 * FPS), int(2.25 * FPS)  # the second section's first beat; a quarter beat later
    assert backdrop_luma(moving[first]) > backdrop_luma(moving[between]) + 2.5
    assert abs(backdrop_luma(moving[between]) - backdrop_luma(still[between])) < 0.8  # after the flash: untouched
    assert abs(backdrop_luma(still[first]) - backdrop_luma(still[between])) < 0.8  # motion off: no flash
    bar_line = int(4.0 * FPS)  # an ordinary bar line: no flash
    assert abs(backdrop_luma(moving[bar_line]) - backdrop_luma(still[bar_line])) < 0.8


def test_beat_and_bar_line_amounts_brighten_the_picture_bar_lines_more(tmp_path):
    frames = frames_of(tmp_path, {"motion.beat_amount": 0.04, "motion.downbeat_amount": 0.1})
    base = backdrop_luma(frames[int(2.25 * FPS)])
    beat, bar_line = backdrop_luma(frames[int(2.5 * FPS)]) - base, backdrop_luma(frames[int(2.0 * FPS)]) - base
    assert beat > 1.0 and bar_line > 1.5 * beat


def test_bar_lines_glow_stronger_than_other_beats(tmp_path):
    moving, still = frames_of(tmp_path), frames_of(tmp_path, OFF)
    bars = Layout.for_size(W, H).bars_box
    region = (slice(bars.y0, bars.y1), slice(bars.x0, bars.x1))

    def boost(index: int) -> float:
        lit = still[index][region].max(axis=-1) > 90
        return float(moving[index][region][lit].mean() - still[index][region][lit].mean())

    assert boost(int(2.0 * FPS)) > 1.2 * boost(int(2.5 * FPS)) > 0


def test_the_visualiser_glows_on_every_beat_and_not_between(tmp_path):
    moving, still = frames_of(tmp_path), frames_of(tmp_path, OFF)
    bars = Layout.for_size(W, H).bars_box
    region = (slice(bars.y0, bars.y1), slice(bars.x0, bars.x1))
    for beat in (int(2.5 * FPS), int(3.5 * FPS)):  # ordinary beats, not bar lines
        lit = still[beat][region].max(axis=-1) > 90  # the bars' own pixels (the backdrop is dark there)
        assert lit.sum() > 50
        assert moving[beat][region][lit].mean() > still[beat][region][lit].mean() + 8
    between = int(2.75 * FPS)
    lit = still[between][region].max(axis=-1) > 90
    assert abs(moving[between][region][lit].mean() - still[between][region][lit].mean()) < 2.5


def test_the_chorus_shifts_toward_the_accent_colour_and_back(tmp_path):
    sections = [SongSection(kind="verse", start=0.0, end=2.0), SongSection(kind="chorus", start=2.0, end=4.0),
                SongSection(kind="verse", start=4.0, end=SECONDS)]
    frames = frames_of(tmp_path, {"text.accent": "#ff3c3c", "motion.beat": "none"}, grid_analysis(sections))

    def redness(frame: np.ndarray) -> float:
        patch = frame[10:40, 200:300].reshape(-1, 3).mean(axis=0)
        return float(patch[0] - patch[2])

    verse, chorus, after = (redness(frames[int(t * FPS)]) for t in (1.2, 3.0, 5.0))  # accent: red, cover: blue
    assert chorus > verse + 15 and abs(after - verse) < 3
    none = frames_of(tmp_path, {"text.accent": "#ff3c3c", **OFF}, grid_analysis(sections))
    assert abs(redness(none[int(3.0 * FPS)]) - redness(none[int(1.2 * FPS)])) < 2


def text_rows(frame: np.ndarray) -> np.ndarray:
    """Rows of the lyric box holding white text."""
    box = Layout.for_size(W, H).lyric_box
    return box.y0 + np.flatnonzero((frame[box.y0 : box.y1].min(axis=-1) > 150).sum(axis=1) > 3)


def test_a_line_rises_into_place_and_lands_on_its_first_word(tmp_path):
    lines = [LyricLine(text="Rising words", start=3.0, end=4.5)]
    options = RenderOptions(width=W, height=H, fps=FPS, overrides={"lyrics.karaoke": False})
    scene = build_scene(click_song(tmp_path / "song.wav"), lines, cover(tmp_path / "c.png"), "", options,
                        music=Music.of(grid_analysis()))
    with scene.compositor as compositor:
        def rows_at(t: float) -> np.ndarray:
            return text_rows(compositor.render(int(round(t * FPS))).to_rgb())

        landed = rows_at(3.3)
        entering = rows_at(2.8)  # faded in, still rising
        assert len(landed) and len(entering)
        assert entering.min() >= landed.min() + 2 and entering.max() >= landed.max() + 2  # still below its place
        assert np.array_equal(rows_at(3.0), landed)  # on the first word it is in place


def test_a_clip_fades_from_and_to_black(tmp_path):
    out = tmp_path / "short.mp4"
    clip = Clip(start=1.0, end=5.0, phrase_start=1.5, phrase_end=4.5, fade_in=0.5, fade_out=0.5)
    options = RenderOptions(width=W, height=H, fps=FPS)
    render_music_video(click_song(tmp_path / "song.wav"), [], cover(tmp_path / "c.png"), "", out, options,
                       analysis=grid_analysis(), clip=clip)
    frames = video_frames(out, size=(W, H)).astype(np.float32)
    assert len(frames) == pytest.approx(4.0 * FPS, abs=1)
    assert frames[0].mean() < 0.15 * frames[len(frames) // 2].mean()
    assert frames[-1].mean() < 0.15 * frames[len(frames) // 2].mean()


def test_pulses_change_the_picture_twice_and_leave_most_frames_alone():
    spec = load_style("classic").motion
    gain, glow = pulse_levels(MusicTimes.from_analysis(grid_analysis()), spec, int(SECONDS * FPS), FPS)
    assert not gain.any()  # one section: no flash, and bar lines leave the picture alone by default
    assert glow[int(0.5 * FPS)] > 0 and glow[int(0.25 * FPS)] == 0  # a beat glows, a quarter beat later it is over
    assert np.count_nonzero(np.diff(glow[int(0.4 * FPS) : int(0.9 * FPS)])) == 2  # one beat: on, off
    assert (glow > 0).mean() < 0.25
    bar_lines = load_style("classic", {"motion.downbeat_amount": 0.08}).motion
    gain, _ = pulse_levels(MusicTimes.from_analysis(grid_analysis()), bar_lines, int(SECONDS * FPS), FPS)
    assert gain[int(2.0 * FPS)] > 0 and gain[int(2.5 * FPS)] == 0 and (gain > 0).mean() < 0.1


def test_motion_keys_are_checked_with_one_clear_error():
    with pytest.raises(ValueError, match=r"\[motion\] beat = 'wobble' is not valid; expected one of: pulse, none"):
        load_style("classic", {"motion.beat": "wobble"})
    assert load_style("classic", {"motion.section": "none"}).motion.section == "none"
    assert MotionSpec(beat="none", downbeat="none", section="none", entrance="none").moves is False
