"""A clip's lyrics on its own clock, and its audio faded at both ends."""

from __future__ import annotations

import numpy as np

from mvflow.models import Clip, LyricLine, LyricWord
from mvflow.render.clip import clip_lines, faded

CLIP = Clip(start=10.0, end=20.0, phrase_start=10.5, phrase_end=19.5, fade_in=0.5, fade_out=0.5)


def line(text: str, *words: tuple[float, float]) -> LyricLine:
    timed = [LyricWord(text=f"w{k}", start=a, end=b) for k, (a, b) in enumerate(words)]
    return LyricLine(text=text, start=words[0][0], end=words[-1][1], words=timed)


def test_a_clip_keeps_the_lines_and_words_sung_inside_it_on_its_clock():
    lines = [line("before", (5.0, 6.0), (6.0, 9.9)),
             line("across the start", (8.0, 9.5), (9.5, 11.0), (11.0, 12.0)),
             line("inside", (13.0, 14.0), (14.0, 15.5)),
             line("across the end", (18.0, 19.0), (19.0, 21.0), (21.0, 22.0)),
             line("after", (20.0, 21.0))]
    got = clip_lines(lines, CLIP)
    assert [ln.text for ln in got] == ["across the start", "inside", "across the end"]
    assert [(ln.start, ln.end) for ln in got] == [(0.0, 2.0), (3.0, 5.5), (8.0, 10.0)]
    assert [[(w.start, w.end) for w in ln.words] for ln in got] == [
        [(0.0, 1.0), (1.0, 2.0)],  # the word sung wholly before the clip is gone; the one across it clamped
        [(3.0, 4.0), (4.0, 5.5)],
        [(8.0, 9.0), (9.0, 10.0)]]  # likewise at the end
    assert clip_lines(lines, None) is lines


def test_a_clip_fades_in_and_out_without_a_click():
    rate = 1000
    tone = np.ones((3 * rate, 2), np.float32)
    out = faded(tone, rate, 0.5, 1.0)
    assert out[0, 0] < 0.01 and out[-1, 1] < 0.01  # starts and ends near silence
    assert np.all(np.diff(out[:500, 0]) > 0) and np.all(np.diff(out[-1000:, 0]) < 0)  # smooth ramps
    assert np.allclose(out[500:2000], 1.0)  # untouched between the fades
    assert abs(out[250, 0] - np.sqrt(0.5)) < 0.005  # equal power: half-way in at -3 dB, not -6 dB
    assert np.array_equal(tone, np.ones_like(tone))  # the input is left alone
