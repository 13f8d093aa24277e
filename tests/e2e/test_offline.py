"""End to end: the offline flow on a short song, at a small resolution, checked on real output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mvflow.models import LyricsOptions, RenderOptions, SongRequest
from tests.support.media import read_lrc, stream_durations

pytestmark = pytest.mark.e2e

LYRICS = """[Intro]

[Verse]
Hello city lights tonight
We are running through the rain

[Chorus]
SING IT LOUD AND CLEAR
"""

FPS = 15
OPTIONS = RenderOptions(width=320, height=180, fps=FPS)


def run_flow(root: Path):
    from mvflow.flows.music_video import music_video

    request = SongRequest(caption="upbeat synth pop, night", lyrics=LYRICS, duration=12, bpm=120,
                          key_scale="C major", seed=3)
    return music_video(request=request, title="Test Song", output_root=str(root),
                       lyrics_options=LyricsOptions(transcriber="local"), render_options=OPTIONS)


def snapshot(folder: Path) -> dict[str, int]:
    files = (p for p in folder.rglob("*") if p.is_file() and ".prefect-results" not in p.parts)
    return {str(p): p.stat().st_mtime_ns for p in files}


def statuses(run) -> dict[str, str]:
    return {s.name: s.status for s in run.steps}


@pytest.fixture(scope="module")
def first_run(prefect_harness, tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    return root, run_flow(root)


def test_video_has_both_streams_matching_the_song(first_run):
    _, run = first_run
    video_s, audio_s = stream_durations(Path(run.video.video.path), FPS)
    assert abs(video_s - run.video.song.duration) <= 0.1
    assert abs(audio_s - run.video.song.duration) <= 0.1
    assert statuses(run) == {"song": "ran", "lyrics": "ran", "thumbnail": "ran", "analysis": "ran", "render": "ran"}


def test_lrc_has_each_sung_line_near_where_the_engine_put_it(first_run):
    _, run = first_run
    placement = json.loads(Path(run.video.song.extra_files[0].path).read_text())
    lrc = read_lrc(Path(run.video.lyrics.files["lrc"].path))
    assert [text for _, text in lrc] == [p["text"] for p in placement]
    times = [t for t, _ in lrc]
    assert times == sorted(times)
    for (t, text), placed in zip(lrc, placement):
        assert abs(t - placed["start"]) <= 1.0, (text, t, placed["start"])


def test_manifest_lists_every_file_with_hash_and_maker(first_run):
    _, run = first_run
    manifest = json.loads(Path(run.manifest).read_text())
    roles = {f["role"]: f for f in manifest["files"]}
    assert {"audio", "song_result", "lyrics_lrc", "lyrics_srt", "lyrics_json", "cover", "video"} <= set(roles)
    assert roles["audio"]["made_by"] == "local" and roles["video"]["made_by"] == "mvflow"
    for entry in manifest["files"]:
        assert len(entry["sha256"]) == 64 and (Path(run.out_dir) / entry["path"]).is_file()
    assert (Path(run.out_dir) / "test-song.mp4").is_file()


def test_second_run_is_cached_and_rewrites_nothing(first_run):
    root, _ = first_run
    before = snapshot(root)
    run = run_flow(root)
    assert statuses(run) == {"song": "cached", "lyrics": "cached", "thumbnail": "cached", "analysis": "cached",
                            "render": "cached"}
    assert snapshot(root) == before


def test_deleting_the_cover_reruns_only_the_thumbnail(first_run):
    root, run = first_run
    Path(run.video.cover.background.path).unlink()
    rerun = run_flow(root)
    assert statuses(rerun) == {"song": "cached", "lyrics": "cached", "thumbnail": "re-ran", "analysis": "cached",
                              "render": "cached"}
    assert Path(rerun.video.cover.background.path).is_file()
    assert rerun.video.cover.background.sha256 == run.video.cover.background.sha256
