"""`mvflow make --demo --outputs full,short,square`: three videos from one song, lyrics, cover and analysis,
each its own cached render; the short is the first chorus, cut on bar lines, faded, in 9:16."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mvflow.audio import decode_audio
from mvflow.render.encoder import probe_streams
from tests.support.media import video_frames


def demo_params(out: Path, outputs: str) -> dict:
    from mvflow.flows.spec import demo_spec, flow_params, spec_from

    return flow_params(spec_from({"outputs": outputs, "resolution": "360p", "fps": 15, "output_dir": out},
                                 base=demo_spec()))


def loudness(samples: np.ndarray, rate: int, window: float = 0.1) -> np.ndarray:
    n = int(window * rate)
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    return 10 * np.log10((frames**2).mean(axis=1) + 1e-9)


@pytest.mark.e2e
def test_one_run_makes_the_full_video_its_short_and_a_square(prefect_harness, no_config, capsys):
    from mvflow.flows.music_video import music_video

    run = music_video(**demo_params(no_config / "out", "full,short,square"))
    full, short, square = run.videos
    assert [v.output for v in run.videos] == ["full", "short", "square"]
    sizes = [(probe_streams(Path(v.video.path))["width"], probe_streams(Path(v.video.path))["height"])
             for v in run.videos]
    assert sizes == [(640, 360), (360, 640), (360, 360)]
    assert len({v.song.audio.sha256 for v in run.videos}) == len({v.cover.square.sha256 for v in run.videos}) == 1
    assert [s.name for s in run.steps].count("song") == 1 and [s.name for s in run.steps].count("lyrics") == 1
    assert {"render", "render-short", "render-square", "analysis"} <= {s.name for s in run.steps}

    # The short: the first chorus line's bar line, to a phrase boundary, faded, at most 59 s.
    placement = json.loads(next(Path(run.out_dir).glob("song-*/placement.json")).read_text())
    first_chorus = next(p for p in placement if p["section"] == "Chorus")
    result = json.loads(Path(full.song.result.path).read_text())
    bar = result["bar_seconds"]
    clip = short.clip
    assert abs(clip.phrase_start - first_chorus["start"]) < bar and clip.reason == "first full chorus"
    assert min(abs(clip.phrase_end - d) for d in [*short.analysis.downbeats, full.song.duration]) < 0.01
    assert not any(p["start"] + 0.1 < clip.phrase_end < p["end"] - 0.1 for p in placement)  # no line cut
    assert clip.phrase_end >= max(p["end"] for p in placement if p["section"] == "Chorus")
    assert clip.duration <= 59.0
    info = probe_streams(Path(short.video.path))
    assert info["video_duration"] == pytest.approx(clip.duration, abs=0.1)

    # Its sound is that part of the song (same loudness contour), faded in from silence.
    song = decode_audio(full.song.audio.path, 8000)
    heard = decode_audio(short.video.path, 8000)
    part = song[int(clip.start * 8000) : int(clip.end * 8000)]
    a, b = loudness(part, 8000), loudness(heard, 8000)
    n = min(len(a), len(b))
    assert np.corrcoef(a[2:n - 2], b[2:n - 2])[0, 1] > 0.9
    assert np.abs(heard[:200]).max() < 0.2 * np.abs(heard).max()
    frames = video_frames(Path(short.video.path), size=(18, 32))
    assert frames[0].mean() < 0.2 * frames[len(frames) // 2].mean()  # the picture fades in too

    manifest = json.loads(Path(run.manifest).read_text())
    assert [o["output"] for o in manifest["outputs"]] == ["full", "short", "square"]
    assert manifest["outputs"][1]["clip"]["phrase_start"] == clip.phrase_start
    roles = {f["role"] for f in manifest["files"]}
    assert {"video", "video_short", "video_square", "analysis"} <= roles
    for name in ("night-drive.mp4", "night-drive.short.mp4", "night-drive.square.mp4"):
        assert (Path(run.out_dir) / name).is_file()

    # Asking again for two of them renders nothing: each output is its own cached step.
    again = music_video(**demo_params(no_config / "out", "short,full"))
    assert again.all_cached and [v.video.path for v in again.videos] == [short.video.path, full.video.path]

    # The run's report names every output but the full video, whatever their order, and prints each path.
    from mvflow.cli.make import report_run

    capsys.readouterr()
    report_run(again)
    out, err = capsys.readouterr()
    said = " ".join((out + err).split())
    assert f"short 360x640, {clip.describe(' of the song')}" in said and "full 640x360" not in said
    assert out.split() == [short.video.path, full.video.path]
