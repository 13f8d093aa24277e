"""Where a line of text may wrap, for scripts written with and without spaces.

Latin, Cyrillic, Greek and Korean separate words with spaces: a row may only end at a
space. Chinese and Japanese are written without spaces: a row may end between any two
characters, except that no row may start with closing punctuation or a small kana
(、。」ー っ ...) and none may end with opening punctuation (「（ ...) — the Japanese
"kinsoku" rules, which Chinese typesetting follows as well.

Shared by the lyrics readers (joining word-timed CJK without inventing spaces) and the
renderer (wrapping lyric rows, ellipsizing titles, karaoke character positions).
"""

from __future__ import annotations

#: Characters that must not start a row (closing punctuation, small kana, prolonged sound mark).
NO_ROW_START = frozenset(
    "、。，．,.!?！？)）]］}｝」』】〕〉》〙〗〛’”»›:;：；…‥・ー〜～%％"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ々〻ヽヾゝゞ゛゜"
)
#: Characters that must not end a row (opening punctuation).
NO_ROW_END = frozenset("([（［{｛「『【〔〈《〘〖〚‘“«‹")

_SPACELESS_RANGES = (
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3000, 0x30FF),  # CJK symbols and punctuation, hiragana, katakana
    (0x3100, 0x312F),  # bopomofo
    (0x31A0, 0x31FF),  # bopomofo extended, CJK strokes, katakana phonetic extensions
    (0x3200, 0x9FFF),  # enclosed CJK, CJK compatibility, extension A, unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # halfwidth and fullwidth forms
    (0x20000, 0x3FFFF),  # supplementary ideographic planes
)


def is_spaceless(ch: str) -> bool:
    """True for a character of a script written without spaces between words (Chinese, Japanese).

    Hangul is not included: Korean puts spaces between words and wraps at them.
    """
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _SPACELESS_RANGES)


def can_break_before(text: str, i: int) -> bool:
    """May a row end just before text[i] (a space before it stays on the previous row)?"""
    if i <= 0 or i >= len(text):
        return False
    prev, ch = text[i - 1], text[i]
    if ch == " " or ch in NO_ROW_START or prev in NO_ROW_END:
        return False
    return prev == " " or is_spaceless(prev) or is_spaceless(ch)


def segments(text: str) -> list[str]:
    """`text` cut at every break opportunity; the pieces concatenate back to `text`.

    A piece keeps its trailing space, so a row is the join of its pieces, right-stripped.
    """
    cuts = [i for i in range(1, len(text)) if can_break_before(text, i)]
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)] if text else []


def join_words(words: list[str]) -> str:
    """Words of one line joined as they are written: with a space between words, but none
    between two characters of a spaceless script ("夜" + "の" -> "夜の", not "夜 の")."""
    out = ""
    for word in (w.strip() for w in words):
        if not word:
            continue
        if out and not (is_spaceless(out[-1]) and is_spaceless(word[0])):
            out += " "
        out += word
    return out
