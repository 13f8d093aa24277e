"""Save a still of every bundled style at three lyric moments, to judge the looks by eye.

    python benchmarks/style_stills.py [OUT_DIR] [--styles classic,vertical] [--no-readme]

For each style, at the style's own canvas size (1920x1080, or 1080x1920 for vertical),
renders the frame while a line is being sung (karaoke fill half way), at a change of line
(the short dip between two lines), and in an instrumental gap, from a synthetic song with
word-timed lyrics and a procedural cover. Writes OUT_DIR/<style>-<moment>.png (default
./style_stills) and, unless --no-readme, small JPGs for the README in docs/images/styles/.
Prints how long each still took (scene preparation included).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from render_speed import synthetic_lines, synthetic_song  # noqa: E402

from mvflow.cli.video_options import build_render_options  # noqa: E402
from mvflow.cover.procedural import procedural_cover  # noqa: E402
from mvflow.models import LyricLine  # noqa: E402
from mvflow.render.style_loader import bundled_style_names  # noqa: E402
from mvflow.render.video import render_still  # noqa: E402

TITLE, SUBTITLE = "Night Drive", "dreamy synthwave · mvflow"
CAPTION = "dreamy synthwave, female vocal, night drive, neon city"
SECONDS = 40.0
README_DIR = ROOT / "docs" / "images" / "styles"
README_WIDTH = 480


def moments(lines: list[LyricLine]) -> dict[str, float]:
    """Times of: a line half sung, the dip between two close lines, the middle of a long gap."""
    sung = next(ln for ln in lines[1:] if len(ln.words) >= 6)
    close = next(i for i in range(len(lines) - 1) if lines[i + 1].start - lines[i].end <= 0.2)
    gap = max(range(len(lines) - 1), key=lambda i: lines[i + 1].start - lines[i].end)
    return {
        "sung": sung.start + 0.55 * (sung.end - sung.start),
        "change": (lines[close].end + lines[close + 1].start) / 2 - 0.02,
        "gap": (lines[gap].end + lines[gap + 1].start) / 2,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", type=Path, default=Path("style_stills"))
    ap.add_argument("--styles", default=",".join(bundled_style_names()))
    ap.add_argument("--no-readme", action="store_true", help="do not write the README's small JPGs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        audio = tmp / "song.wav"
        synthetic_song(audio, SECONDS)
        lines = synthetic_lines(SECONDS)
        times = moments(lines)
        covers: dict[tuple[int, int], Path] = {}
        for name in args.styles.split(","):
            options = build_render_options(style=name)
            size = (options.width, options.height)
            if size not in covers:  # the cover step makes the backdrop at the video's shape
                covers[size] = tmp / f"cover-{size[0]}x{size[1]}.png"
                procedural_cover(CAPTION, TITLE, 7, size).save(covers[size])
            art = tmp / "art.png"
            if not art.exists():
                procedural_cover(CAPTION, TITLE, 7, (1024, 1024)).save(art)
            for moment, t in times.items():
                t0 = time.perf_counter()
                still = render_still(audio, lines, covers[size], TITLE, t, options, SUBTITLE, art_path=art)
                path = args.out / f"{name}-{moment}.png"
                still.save(path)
                print(f"{path}  t={t:6.2f} s  {options.width}x{options.height}  {time.perf_counter() - t0:5.2f} s")
                if not args.no_readme and moment == "sung":
                    README_DIR.mkdir(parents=True, exist_ok=True)
                    small = still.resize((README_WIDTH, round(README_WIDTH * still.height / still.width)),
                                         Image.Resampling.LANCZOS)
                    small.convert("RGB").save(README_DIR / f"{name}.jpg", quality=82, optimize=True)


if __name__ == "__main__":
    main()
