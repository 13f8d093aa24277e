"""Styles: the bundled TOMLs render and differ, user TOMLs load or are refused clearly, aspect
presets give the asked stream size, covers are never stretched, and the render cache key
follows a style file's content. Small frames (320x180 and the like) keep this fast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from mvflow.audio import write_wav
from mvflow.cli import app
from mvflow.cli.video_options import build_render_options
from mvflow.files import inputs_hash
from mvflow.models import LyricLine, LyricWord, RenderOptions
from mvflow.render.canvas import canvas_size
from mvflow.render.encoder import probe_streams
from mvflow.render.layers import ZoomingBackground
from mvflow.render.layout import Layout
from mvflow.render.style_loader import bundled_style_names, load_style
from mvflow.render.video import render_music_video, render_still

RATE = 22050
SUNG_AT = 2.0  # the first line is half sung here
GAP_AT = 4.6  # nothing on screen


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("styles")
    t = np.arange(int(6 * RATE)) / RATE
    audio = 0.3 * np.sin(2 * np.pi * (150 + 400 * (t % 1.5)) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    write_wav(tmp / "song.wav", audio, RATE)
    words = "shine a little light".split()
    lines = [
        LyricLine(text="Shine a little light", start=1.2, end=2.8,
                  words=[LyricWord(text=w, start=1.2 + 0.4 * i, end=1.6 + 0.4 * i) for i, w in enumerate(words)]),
        LyricLine(text="Into the night", start=5.2, end=5.9),
    ]
    return {"audio": tmp / "song.wav", "lines": lines, "cover": _circle_cover(tmp / "cover.png"), "dir": tmp}


def _circle_cover(path: Path, size: tuple[int, int] = (400, 300)) -> Path:
    """A black 4:3 picture with a white circle (diameter 120): stretched, it becomes an ellipse."""
    img = Image.new("RGB", size, (0, 0, 0))
    cx, cy = size[0] // 2, size[1] // 2
    ImageDraw.Draw(img).ellipse((cx - 60, cy - 60, cx + 60, cy + 60), fill=(255, 255, 255))
    img.save(path)
    return path


def _small(style: str, **options) -> RenderOptions:
    return build_render_options(style=style, resolution=options.pop("resolution", "180p"), fps=12, **options)


def _still(song: dict, options: RenderOptions, t: float = SUNG_AT, cover: Path | None = None) -> np.ndarray:
    image = render_still(song["audio"], song["lines"], cover or song["cover"], "Style Test", t, options)
    return np.asarray(image, dtype=np.int16)


def _bright_blob(gray: np.ndarray) -> tuple[int, int]:
    """(width, height) of the bright pixels' bounding box."""
    mask = gray > 128
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1


# ---------------------------------------------------------------- bundled styles


def test_bundled_styles_render_and_differ(song):
    names = bundled_style_names()
    assert {"classic", "karaoke", "minimal", "vertical"} <= set(names)
    stills = {name: _still(song, _small(name)) for name in names}
    assert stills["vertical"].shape == (320, 180, 3) and stills["classic"].shape == (180, 320, 3)
    landscape = [n for n in names if n != "vertical"]
    for i, a in enumerate(landscape):
        for b in landscape[i + 1 :]:
            diff = np.abs(stills[a] - stills[b]).max(axis=-1)
            assert (diff > 40).mean() > 0.03, f"{a} and {b} look the same"


def test_classic_is_the_default_and_matches_the_size_derived_layout():
    assert build_render_options().style == "classic"
    style = load_style("classic")
    assert Layout.for_style(1920, 1080, style.layout) == Layout.for_size(1920, 1080)


def test_vertical_puts_square_art_above_title_lyrics_and_visualiser():
    options = build_render_options(style="vertical")
    assert (options.width, options.height) == (1080, 1920)
    layout = Layout.for_style(options.width, options.height, load_style("vertical").layout)
    boxes = [layout.art_box, layout.title_box, layout.lyric_box, layout.bars_box, layout.credit_box]
    assert all(upper.y1 <= lower.y0 for upper, lower in zip(boxes, boxes[1:]))
    assert abs(layout.art_box.width - layout.art_box.height) < 0.05 * layout.art_box.width


def test_vertical_art_is_a_sharp_unstretched_square(song):
    frame = _still(song, _small("vertical", resolution="360p", dim=0.2), t=GAP_AT).mean(axis=-1)
    layout = Layout.for_style(360, 640, load_style("vertical").layout)
    art = layout.art_box
    width, height = _bright_blob(frame[art.y0 : art.y1, art.x0 : art.x1])
    assert abs(width - height) <= 3  # the circle, cropped from the 4:3 cover, is still round


# ---------------------------------------------------------------- user styles


def test_user_toml_path_extends_a_bundled_style(song, tmp_path):
    path = tmp_path / "dark.toml"
    path.write_text('extends = "classic"\n[background]\ndim = 0.0\n[text]\ncredit = "test credit"\n')
    style = load_style(str(path))
    assert style.name == "dark" and style.background.dim == 0.0 and style.visualiser == load_style().visualiser
    dark, classic = _still(song, _small(str(path)), t=GAP_AT), _still(song, _small("classic"), t=GAP_AT)
    middle = (slice(60, 110), slice(130, 190))  # the cover's white circle, nothing drawn over it
    assert classic[middle].mean() > 60 and dark[middle].mean() < 25


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[background]\nspeed = 2\n", "unknown key [background] speed; valid keys: blur, dim, fit"),
        ('[background]\nmotion = "spin"\n', "motion = 'spin' is not valid; expected one of: none, pan, zoom"),
        ('[visualiser]\nkind = "lava"\n', "kind = 'lava' is not valid; expected one of: bars"),
        ('[text]\naccent = "red"\n', "accent = 'red' is not valid; expected a colour like '#5cccff'"),
        ("[layout]\nlyrics = [0.1, 0.5, 0.9, 0.9]\nvisualiser = [0.1, 0.8, 0.9, 0.95]\n", "overlaps the visualiser"),
        ("colours = 1\n", "unknown key 'colours'; valid top-level keys and tables: background, canvas"),
        ("[text\n", "is not valid TOML"),
    ],
)
def test_bad_style_toml_is_one_clear_error(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ValueError) as err:
        Layout.for_style(320, 180, load_style(str(path)).layout)
    assert message in str(err.value)
    if "overlaps" not in message:
        assert str(path) in str(err.value)


def test_cli_refuses_bad_style_and_options_in_one_line(no_config, tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.toml"
    bad.write_text("[background]\nspeed = 2\n")
    for args, message in [
        (["--style", str(bad)], "unknown key [background] speed"),
        (["--style", "neon"], "unknown style 'neon'; choose one of: classic, karaoke, minimal, vertical"),
        (["--aspect", "4:3"], "aspect must be one of 16:9, 9:16, 1:1"),
        (["--accent", "red"], "--accent = 'red' is not valid"),
        (["--background", "spin"], "background must be one of: cover, blur, pan, zoom, gradient"),
    ]:
        result = runner.invoke(app, ["make", "-c", "pop", *args])
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output


# ---------------------------------------------------------------- sizes and covers


@pytest.mark.parametrize(
    ("aspect", "resolution", "size"),
    [(None, None, (1920, 1080)), (None, "720p", (1280, 720)), ("9:16", None, (1080, 1920)),
     ("1:1", None, (1080, 1080)), ("9:16", "720p", (720, 1280)), (None, "1000x500", (1000, 500))],
)
def test_aspect_presets(aspect, resolution, size):
    assert canvas_size(aspect, resolution) == size
    assert canvas_size(None, None, "9:16", "1080p") == (1080, 1920)  # the vertical style's own canvas


@pytest.mark.parametrize(("aspect", "size"), [("9:16", (144, 256)), ("1:1", (144, 144))])
def test_aspect_preset_gives_the_stream_size(song, aspect, size):
    options = build_render_options(aspect=aspect, resolution="144p", fps=10)
    out = song["dir"] / f"aspect-{aspect.replace(':', 'x')}.mp4"
    render_music_video(song["audio"], song["lines"], song["cover"], "Aspect", out, options)
    info = probe_streams(out)
    assert (info["width"], info["height"]) == size


@pytest.mark.parametrize("fit", ["crop", "fit"])
@pytest.mark.parametrize("aspect", ["9:16", "1:1", "16:9"])
def test_covers_are_never_stretched(song, tmp_path, aspect, fit):
    style = tmp_path / "plain.toml"  # sharp, undimmed, no title or visualiser over the middle
    style.write_text(f'extends = "classic"\n[background]\ndim = 1.0\nblur = 0.0\nfit = "{fit}"\n'
                     '[layout]\ntitle = [0.05, 0.02, 0.5, 0.06]\nvisualiser = [0.05, 0.94, 0.95, 0.98]\n'
                     'lyrics = [0.05, 0.88, 0.95, 0.92]\n[text]\ntitle_thumbnail = false\n')
    options = build_render_options(style=str(style), aspect=aspect, resolution="360p", fps=10)
    frame = _still(song, options, t=GAP_AT).mean(axis=-1)
    band = frame[round(0.1 * frame.shape[0]) : round(0.85 * frame.shape[0])]
    width, height = _bright_blob(band)
    assert abs(width / height - 1) < 0.06, (aspect, fit, width, height)


# ---------------------------------------------------------------- backgrounds and cache key


@pytest.mark.parametrize("motion", ["pan", "zoom"])
def test_moving_backgrounds_move(song, tmp_path, motion):
    style = tmp_path / "moving.toml"
    style.write_text(f'extends = "classic"\n[background]\nmotion = "{motion}"\nperiod = 9.0\ntravel = 0.2\n')
    options = _small(str(style))
    a, b = _still(song, options, t=0.3), _still(song, options, t=GAP_AT)
    middle = (slice(40, 110), slice(40, 280))
    assert np.abs(a[middle] - b[middle]).max() > 30


def test_zoom_updates_a_few_times_a_second():
    texture = np.random.default_rng(0).uniform(0, 255, (200, 360, 3))
    zoom = ZoomingBackground(texture, 320, 180, 30, [], travel=0.1, period=4.0)
    versions = [zoom.at(k)[1] for k in range(30)]
    assert len(set(versions)) == 10
    assert zoom.scale_at(0) == 0.0 and zoom.scale_at(60) == pytest.approx(1.0)


def test_render_cache_key_follows_the_style_file_content(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('extends = "classic"\n[background]\ndim = 0.3\n')
    first = build_render_options(style=str(path))
    path.write_text('extends = "classic"\n[background]\ndim = 0.4\n')
    second = build_render_options(style=str(path))
    assert first.style == second.style and first.style_sha256 != second.style_sha256
    assert inputs_hash(first) != inputs_hash(second)
    assert inputs_hash(build_render_options(dim=0.2)) != inputs_hash(build_render_options(dim=0.3))
