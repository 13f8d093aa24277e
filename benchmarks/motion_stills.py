"""Stills of the motion and the outputs on the demo song, for the docs and to judge them by eye.

    python benchmarks/motion_stills.py [OUT_DIR] [--no-docs]

Makes the `mvflow make --demo` song with the built-in engine (its own placement of the lines
stands in for the lyrics step), analyses it, and renders at 1920x1080 / 1080x1920 / 1080x1080:
the frame just before a bar line and the one on it (the picture's pulse and the visualiser's
glow), a verse and a chorus frame (the colour shift), a short's frame and a square's frame.
Writes full-size PNGs to OUT_DIR (default ./motion_stills) and, unless --no-docs, small JPGs
to docs/images/motion/. Prints the analysis and the short's cut.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mvflow.analysis.analyse import analyse_audio  # noqa: E402
from mvflow.analysis.highlight import short_clip  # noqa: E402
from mvflow.cover.procedural import procedural_cover  # noqa: E402
from mvflow.flows.spec import demo_spec  # noqa: E402
from mvflow.models import LyricLine, LyricWord, RenderOptions, SongRequest  # noqa: E402
from mvflow.render.outputs import OUTPUTS  # noqa: E402
from mvflow.render.video import render_still  # noqa: E402
from mvflow.song.builtin.engine import generate_local_song  # noqa: E402

DOCS_DIR = ROOT / "docs" / "images" / "motion"


def demo_song(folder: Path) -> tuple[Path, list[LyricLine], dict]:
    spec = demo_spec()
    request = SongRequest(caption=spec["caption"], lyrics=spec["lyrics"], duration=spec["duration"], bpm=spec["bpm"],
                          key_scale=spec["key"], seed=spec["seed"])
    song = generate_local_song(request, folder)
    placement = json.loads((folder / "placement.json").read_text())
    lines = [LyricLine(text=p["text"], start=p["start"], end=p["end"],
                       words=[LyricWord(**w) for w in p["words"]]) for p in placement]
    return Path(song.audio.path), lines, spec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", type=Path, default=Path("motion_stills"))
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        audio, lines, spec = demo_song(folder)
        analysis = analyse_audio(audio, folder, spec["lyrics"], lines, "4")
        print(f"{analysis.tempo:.2f} bpm, {len(analysis.beats)} beats; sections: "
              + ", ".join(f"{s.kind} {s.start:.2f}-{s.end:.2f}" for s in analysis.sections))
        clip = short_clip(analysis, lines)
        print(f"short: {clip.start:.2f}-{clip.end:.2f} s ({clip.reason}), music {clip.phrase_start:.2f}-"
              f"{clip.phrase_end:.2f}")
        wide, square = folder / "cover.png", folder / "square.png"
        procedural_cover(spec["caption"], spec["title"], spec["seed"], (1920, 1080)).save(wide)
        procedural_cover(spec["caption"], spec["title"], spec["seed"], (1024, 1024)).save(square)
        main_options = RenderOptions()
        verse_bar = next(d for d in analysis.downbeats if d > 7.0)
        chorus = next(s for s in analysis.sections if s.kind == "chorus")
        frames = {
            "before-bar-line": (main_options, wide, verse_bar - 0.1),
            "on-bar-line": (main_options, wide, verse_bar + 0.01),
            "verse": (main_options, wide, chorus.start - 1.0),
            "chorus": (main_options, wide, chorus.start + 2.0),
            "square": (OUTPUTS.get("square").options(main_options), square, chorus.start + 2.0),
        }
        stills = {}
        for name, (options, cover, t) in frames.items():
            stills[name] = render_still(audio, lines, cover, spec["title"], t, options, art_path=square,
                                        analysis=analysis)
        # The short's frame: rendered from the song at the same moment as the chorus frame.
        short_options = OUTPUTS.get("short").options(main_options)
        stills["short"] = render_still(audio, lines, square, spec["title"], chorus.start + 2.0, short_options,
                                       art_path=square, analysis=analysis)
    for name, image in stills.items():
        image.save(args.out / f"{name}.png")
        if not args.no_docs:
            DOCS_DIR.mkdir(parents=True, exist_ok=True)
            small = image.copy()
            small.thumbnail((480, 480))
            small.save(DOCS_DIR / f"{name}.jpg", quality=82)
    print(f"stills in {args.out}" + ("" if args.no_docs else f" and {DOCS_DIR}"))


if __name__ == "__main__":
    main()
