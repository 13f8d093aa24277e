"""Text in the video: fonts chosen by coverage (no tofu), CJK wrapping, long lines and titles."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageFont

from mvflow.audio import write_wav
from mvflow.lyrics.formats import parse_lrc, to_enhanced_lrc
from mvflow.models import LyricLine, LyricWord, RenderOptions
from mvflow.render.fonts import families, family_for, font_path
from mvflow.render.layout import Layout
from mvflow.render.style_loader import load_style
from mvflow.render.text import CardPainter, ellipsize, fit_text, fit_title, load_font, title_candidates
from mvflow.render.video import render_still
from mvflow.textbreak import NO_ROW_END, NO_ROW_START, segments

SAMPLES = {
    "japanese": "東京の夜は眠らない、ネオンが街を照らす",
    "chinese": "我们在夜色中开车，城市的灯光像河流一样",
    "korean": "밤하늘의 별처럼 빛나는 너를 기억해",
    "accented": "Café déjà vu, naïve façade — señor Øresund Ångström",
    "cyrillic": "Ночь, улица, фонарь, аптека; ёжик в тумане",
}
#: An unassigned code point: every font draws its .notdef box ("tofu") for it.
UNASSIGNED = "\u0378"


def _bitmap(font: ImageFont.FreeTypeFont, ch: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


def tofu(font: ImageFont.FreeTypeFont, text: str) -> list[str]:
    """Characters of `text` that the font draws as its .notdef box, or not at all."""
    notdef = _bitmap(font, UNASSIGNED)
    return [ch for ch in text if not ch.isspace() and (_bitmap(font, ch) == notdef or not any(_bitmap(font, ch)[1]))]


def test_tofu_detector_sees_missing_glyphs():
    """The check below can fail: Source Sans Pro has no kana or hanzi and draws boxes."""
    latin = ImageFont.truetype(str(families()[0].path("Bold")), 48)
    assert set(tofu(latin, "夜の街")) == {"夜", "の", "街"}
    assert tofu(latin, "night") == []


@pytest.mark.parametrize("language", SAMPLES)
def test_every_script_renders_real_glyphs(language):
    font, rows = fit_text(SAMPLES[language], "Bold", 72, 40, 1600, 2)
    assert tofu(font, "".join(rows)) == []
    expected = "Source Sans Pro" if language in ("accented", "cyrillic") else "Noto Sans CJK"
    assert family_for(SAMPLES[language]).name == expected
    assert font_path("Bold", SAMPLES[language]) == family_for(SAMPLES[language]).path("Bold")


def test_mixed_line_stays_in_one_font():
    font, _ = fit_text("Tokyo 夜の街 forever", "Regular", 60, 30, 1600, 2)
    assert tofu(font, "Tokyo 夜の街 forever") == []
    assert load_font("Regular", 60, "plain words").path != font.path  # Latin keeps Source Sans Pro


def test_cjk_wraps_between_characters_without_breaking_kinsoku():
    text = "東京の夜は眠らない、ネオンの光が街を照らして「僕ら」はずっと走り続ける。夢の中へ、夜明けまで。"
    for width in range(300, 1300, 37):  # many widths, so breaks fall next to the punctuation too
        font, rows = fit_text(text, "Bold", 60, 40, width, 3)
        if rows[-1].endswith("\u2026"):
            continue
        assert "".join(rows) == text  # nothing lost, no spaces invented
        assert all(font.getlength(r) <= width for r in rows)
        assert not any(r[0] in NO_ROW_START for r in rows), rows
        assert not any(r[-1] in NO_ROW_END for r in rows), rows
    _, rows = fit_text(text, "Bold", 60, 40, 700, 3)
    assert len(rows) >= 2


def test_segments_break_only_where_allowed():
    assert segments("hello big world") == ["hello ", "big ", "world"]
    assert segments("「夢」の中へ。") == ["「夢」", "の", "中", "へ。"]
    assert "".join(segments("Tokyo 夜の街")) == "Tokyo 夜の街"


def test_very_long_word_is_split_not_overflowing():
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    font, rows = fit_text(word, "Bold", 60, 40, 500, 3)
    assert len(rows) >= 2 and "".join(rows) == word
    assert all(font.getlength(r) <= 500 for r in rows)


def test_too_much_text_is_cut_with_an_ellipsis_inside_the_width():
    text = "夜" * 400
    font, rows = fit_text(text, "Bold", 60, 40, 600, 2)
    assert len(rows) == 2 and rows[-1].endswith("\u2026")
    assert all(font.getlength(r) <= 600 for r in rows)


def test_long_titles_lose_parentheticals_then_words():
    assert title_candidates("Night Drive (feat. Someone Famous) [Official Video]") == [
        "Night Drive (feat. Someone Famous) [Official Video]", "Night Drive (feat. Someone Famous)", "Night Drive"]
    assert title_candidates("Midnight feat. The Band")[-1] == "Midnight"
    font, title = fit_title("Night Drive (feat. Someone Famous) [Official Music Video]", "Bold", 54, 38, 420)
    assert title == "Night Drive" and font.size == 54  # kept big: the name is what matters
    long = "An extraordinarily long title that goes on and on about driving at night"
    font, title = fit_title(long, "Bold", 54, 38, 500)
    assert title.endswith("\u2026") and font.getlength(title) <= 500
    assert long.startswith(title[:-1] + " ")  # cut at a word boundary
    font, title = fit_title("Short", "Bold", 54, 38, 500)
    assert title == "Short"


def test_ellipsize_falls_back_to_characters_for_one_huge_word():
    font = load_font("Bold", 40)
    cut = ellipsize("a " + "x" * 200, font, 300)
    assert cut.startswith("a xxx") and cut.endswith("\u2026") and font.getlength(cut) <= 300


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)])
def test_long_cjk_line_card_stays_in_the_lyric_box(size):
    layout = Layout.for_size(*size)
    painter = CardPainter(layout, load_style("classic"), (255, 200, 0))
    line = "我们在夜色中开车，城市的灯光像河流一样流过我们的窗户，" * 3
    card = painter.lyric_card(line, SAMPLES["korean"])
    box = layout.lyric_box
    assert card.origin[0] >= 0 and card.origin[0] + card.unsung.width <= box.width
    assert card.origin[1] >= 0 and card.origin[1] + card.unsung.height <= box.height
    for row in card.rows:
        assert 0 <= row.edges[0] and row.edges[-1] <= box.width
    assert np.asarray(card.unsung)[..., 3].max() == 255  # ink


def test_karaoke_rows_of_cjk_lines_advance_per_character():
    layout = Layout.for_size(1920, 1080)
    painter = CardPainter(layout, load_style("classic"), (255, 200, 0))
    line = "東京の夜は眠らない、ネオンの光が街を照らして僕らはずっと走り続ける夢の中へ"
    card = painter.lyric_card(line, None)
    assert len(card.rows) == 2
    first, second = card.rows
    assert second.first_char == first.last_char  # no separator between CJK rows
    assert second.last_char == len(line)
    wipes = [first.wipe_x(k) for k in range(first.first_char + 1, first.last_char + 1)]
    assert all(b > a for a, b in zip(wipes, wipes[1:], strict=False))  # every character moves the wipe


def test_word_timed_cjk_lrc_keeps_its_text():
    lines = parse_lrc("[00:01.00]<00:01.00>夜<00:01.50>の<00:02.00>街<00:02.50>\n"
                      "[00:03.00]<00:03.00>Hello <00:03.50>world<00:04.00>")
    assert [ln.text for ln in lines] == ["夜の街", "Hello world"]
    assert [w.text for w in lines[0].words] == ["夜", "の", "街"]
    again = parse_lrc(to_enhanced_lrc(lines))  # our writer puts spaces between word stamps
    assert [ln.text for ln in again] == ["夜の街", "Hello world"]


def test_full_hd_still_with_cjk_karaoke(tmp_path):
    """A 1920x1080 frame half way through a Japanese line: real glyphs, part highlighted."""
    audio = tmp_path / "a.wav"
    rate = 22050
    write_wav(audio, 0.2 * np.sin(2 * np.pi * 220 * np.arange(6 * rate) / rate), rate)
    text = "東京の夜は眠らない"
    words = [LyricWord(text=ch, start=1.0 + 0.4 * i, end=1.4 + 0.4 * i) for i, ch in enumerate(text)]
    lines = [LyricLine(text=text, start=1.0, end=4.6, words=words),
             LyricLine(text="밤하늘의 별처럼", start=5.0, end=5.9)]
    still = render_still(audio, lines, None, "夜のドライブ (feat. ネオン) [Official Video]", 2.8,
                         RenderOptions(width=1920, height=1080, fps=30, style="classic"), "Ночной город")
    still.save(tmp_path / "cjk.png")
    layout = Layout.for_size(1920, 1080)
    box = layout.lyric_box
    lyric = np.asarray(still)[box.y0 : box.y1, box.x0 : box.x1].astype(int)
    white = (lyric.min(axis=-1) > 200).sum()
    accent = ((lyric.max(axis=-1) - lyric.min(axis=-1)) > 120).sum()  # saturated: the sung part
    assert white > 3000 and accent > 3000
