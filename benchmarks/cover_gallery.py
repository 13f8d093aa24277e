"""Regenerate a gallery of procedural covers and print how long each one took.

    python benchmarks/cover_gallery.py [OUT_DIR] [--sizes 1920x1080,1024x1024] [--seeds 0,1]

Writes one PNG per caption, size and seed into OUT_DIR (default ./cover_gallery), plus a
contact sheet per size, so a change to a painter can be judged by eye in one look.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from PIL import Image

from mvflow.cover.procedural import cover_mood, procedural_cover
from mvflow.files import slugify

CAPTIONS: list[tuple[str, str]] = [
    ("dreamy synthwave, female vocal, night drive", "Night Drive"),
    ("sad piano ballad, rainy evening", "Rain on the Window"),
    ("energetic techno, dark warehouse", "Concrete Pulse"),
    ("sunny acoustic folk, summer road trip", "Open Road"),
    ("heavy metal, angry, fire", "Burn It Down"),
    ("lofi hip hop, chill study beats", "Late Notes"),
    ("ambient space music, cosmic drift", "Drift"),
    ("happy edm, summer festival", "Festival Lights"),
    ("calm ocean waves, chillout", "Tides"),
    ("winter ballad, snow falling, love", "First Snow"),
]


def parse_sizes(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in part.lower().split("x")) for part in text.split(",") if part]  # type: ignore[misc]


def contact_sheet(images: list[Image.Image], columns: int = 5, cell_width: int = 384) -> Image.Image:
    """All covers of one size in a grid, scaled down, for a quick side-by-side look."""
    cell_h = round(cell_width * images[0].height / images[0].width)
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cell_width, rows * cell_h), (16, 16, 16))
    for i, img in enumerate(images):
        sheet.paste(
            img.resize((cell_width, cell_h), Image.LANCZOS),
            ((i % columns) * cell_width, (i // columns) * cell_h),
        )
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="cover_gallery")
    parser.add_argument("--sizes", default="1920x1080,1024x1024,1080x1920")
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    for width, height in parse_sizes(args.sizes):
        timings, sheet = [], []
        for caption, title in CAPTIONS:
            for seed in seeds:
                start = time.perf_counter()
                img = procedural_cover(caption, title, seed, (width, height))
                elapsed = time.perf_counter() - start
                timings.append(elapsed)
                sheet.append(img)
                path = out / f"{slugify(caption)}-s{seed}-{width}x{height}.png"
                img.save(path)
                mood = cover_mood(caption, title).describe()
                print(f"{elapsed:6.2f} s  {width}x{height}  {path.name}  [{mood}]")
        contact_sheet(sheet).save(out / f"sheet-{width}x{height}.png")
        print(f"{width}x{height}: mean {statistics.mean(timings):.2f} s, max {max(timings):.2f} s per cover")


if __name__ == "__main__":
    main()
