"""Fitting pictures to cover sizes never stretches them, and a bad --cover image is one clear line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mvflow.cover.user_image import fit_image, load_user_image
from mvflow.errors import PermanentError

SIZES = [(1920, 1080), (1024, 1024), (1080, 1920), (640, 480)]


def circle_image(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A white circle on a mid-grey field, centred, a third of the shorter side across."""
    image = Image.new(mode, size, (90, 90, 90) if mode == "RGB" else (90, 90, 90, 255))
    r = min(size) // 6
    cx, cy = size[0] // 2, size[1] // 2
    ImageDraw.Draw(image).ellipse((cx - r, cy - r, cx + r, cy + r), fill="white")
    return image


def white_box(image: Image.Image) -> tuple[int, int]:
    """Width and height of the bright (circle) pixels; a dimmed backdrop never reaches the threshold."""
    bright = np.asarray(image.convert("L")) > 200
    ys, xs = np.nonzero(bright)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


@pytest.mark.parametrize("mode", ["crop", "fit"])
@pytest.mark.parametrize("source", [(1200, 600), (600, 1200), (800, 800)])
@pytest.mark.parametrize("size", SIZES)
def test_a_circle_stays_a_circle(mode, source, size):
    out = fit_image(circle_image(source), size, mode=mode)
    assert out.size == size and out.mode == "RGB"
    w, h = white_box(out)
    assert abs(w - h) <= max(2, 0.02 * max(w, h)), (w, h)


def test_crop_fills_the_frame_and_fit_shows_everything():
    wide = circle_image((1600, 400))  # 4:1, circle 133 px across
    cropped = fit_image(wide, (400, 400), "crop")  # scaled to height 400: no change, sides trimmed
    fitted = fit_image(wide, (400, 400), "fit")  # scaled to width 400: circle shrinks 4x
    assert white_box(cropped)[0] == pytest.approx(133, abs=3)
    assert white_box(fitted)[0] == pytest.approx(133 / 4, abs=3)


def test_fit_backdrop_is_a_dimmed_blur_not_black_bars():
    out = np.asarray(fit_image(Image.new("RGB", (1600, 400), (200, 120, 40)), (400, 400), "fit"))
    band = out[:100].reshape(-1, 3).mean(axis=0)  # above the letterboxed picture
    assert 40 < band[0] < 120 and band[0] > band[2]  # same hue, darker, not black


def test_transparency_becomes_black_not_garbage():
    image = Image.new("RGBA", (300, 300), (255, 0, 255, 0))  # fully transparent magenta
    assert fit_image(image, (100, 100)).getpixel((50, 50)) == (0, 0, 0)


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(PermanentError, match="unknown cover fit mode 'stretch'"):
        fit_image(circle_image((300, 300)), (100, 100), "stretch")


# -- loading the user's file ----------------------------------------------------------------------


def test_loads_a_good_image_upright(tmp_path):
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned, display rotated 90 degrees
    Image.new("RGB", (400, 300), "red").save(path, exif=exif)
    image = load_user_image(path)
    assert image.size == (300, 400) and image.mode == "RGB"


def test_missing_file(tmp_path):
    with pytest.raises(PermanentError, match=r"cover image .*nope\.png does not exist"):
        load_user_image(tmp_path / "nope.png")


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(PermanentError, match="is not a file"):
        load_user_image(tmp_path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "cover.png"
    path.write_text("this is not a picture")
    with pytest.raises(PermanentError, match="cannot read cover image .*not an image format") as caught:
        load_user_image(path)
    assert "\n" not in str(caught.value)


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.png"
    circle_image((600, 600)).save(path)
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(PermanentError, match="cannot read cover image"):
        load_user_image(path)


def test_tiny_image_says_its_size_and_the_minimum(tmp_path):
    path = tmp_path / "icon.png"
    Image.new("RGB", (100, 80)).save(path)
    with pytest.raises(PermanentError, match=r"is 100x80 pixels, too small: .*at least 256 pixels"):
        load_user_image(path)
    assert load_user_image(path, min_side=64).size == (100, 80)
