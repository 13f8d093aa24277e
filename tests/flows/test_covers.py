"""Covers inside the flow: a Gemini key makes `make` use Gemini (local Gemini-speaking server), and
`--cover-fallback local` survives a blocked answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from mvflow.flows.spec import flow_params, spec_from
from tests.support.gemini_server import GeminiStub

pytestmark = pytest.mark.e2e

KEY = "gemini-test-key-42"


@pytest.fixture
def gemini(monkeypatch, no_config):
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")  # never Google, whatever happens
    with GeminiStub() as stub:
        monkeypatch.setenv("MVFLOW_GEMINI_BASE_URL", stub.url)
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        yield stub


def make(**fields):
    from mvflow.flows.music_video import music_video

    spec = spec_from({"caption": "dreamy synthwave, night drive", "lyrics": "[Verse]\nNeon on the road\n",
                      "duration": 6, "resolution": "320x180", "fps": 8, "output_dir": "out", **fields})
    return music_video(**flow_params(spec))


def test_a_gemini_key_makes_make_use_gemini_covers(prefect_harness, gemini):
    run = make(title="Gemini Cover")
    cover = run.video.cover
    assert cover.provider == "gemini"
    assert Image.open(cover.background.path).size == (320, 180)
    assert Image.open(cover.square.path).size == (1024, 1024)
    assert len(gemini.requests) == 2 and {r.image_config["aspectRatio"] for r in gemini.requests} == {"16:9", "1:1"}
    assert all(r.headers.get("x-goog-api-key") == KEY for r in gemini.requests)
    assert "no text" in gemini.requests[0].prompt.lower()
    assert KEY not in Path(run.manifest).read_text()


def test_cover_fallback_local_survives_a_safety_block(prefect_harness, gemini):
    gemini.block_image("IMAGE_SAFETY")
    run = make(title="Blocked Cover", cover_fallback="local")
    assert run.video.cover.provider == "local (fallback from gemini)"
    assert Path(run.video.video.path).is_file()
