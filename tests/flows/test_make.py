"""The `mvflow` flow behind the `make` deployment: a spec checked like `mvflow make` before any work,
and the portable spec a fan-out batch sends a worker (every setting written out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvflow.flows.make import make_from_spec
from mvflow.flows.outcome import OUTCOMES_FOLDER, SongOutcome
from mvflow.flows.spec import flow_params, portable_spec, spec_from


@pytest.mark.parametrize(("spec", "message"), [
    ({"caption": "piano", "bpm": "fast"},
     "bad request: bpm: Input should be a valid integer, unable to parse string as an integer"),
    ({"caption": "piano", "colour": "red"}, "bad request: colour: unknown field"),
    ({"title": "No Caption"},
     "bad request: caption is required: the style of the song, e.g. 'dreamy synthwave, female vocal' "
     "(or an idea: what the song is about, for a songwriter to write)"),
    ({"caption": "piano", "resolution": "big"}, "bad request: resolution must look like 1920x1080, 1080p or 720p, "
                                                "not 'big'"),
    ("caption=piano", "bad request: spec must be a mapping of mvflow make fields (caption, lyrics, title, ...), "
                      "not str"),
])
def test_a_bad_spec_fails_the_run_in_one_line_before_any_work(prefect_harness, no_config, spec, message):
    state = make_from_spec(spec={**spec, "output_dir": str(no_config / "out")} if isinstance(spec, dict) else spec,
                           return_state=True)
    assert state.is_failed()
    assert state.message == message
    assert not (no_config / "out").exists()  # nothing was made, not even a folder


def test_a_good_spec_makes_the_video_and_leaves_its_outcome(prefect_harness, no_config):
    spec = {"caption": "calm piano", "title": "Quiet", "duration": 3, "resolution": "128x72", "fps": 8,
            "output_dir": str(no_config / "out")}
    state = make_from_spec(spec=spec, batch="unit", return_state=True)
    assert state.is_completed(), state.message
    outcome = SongOutcome.model_validate_json(next((no_config / "out" / OUTCOMES_FOLDER).glob("*.json")).read_text())
    assert outcome.status == "done" and outcome.title == "Quiet" and Path(outcome.video).is_file()
    assert [s.name for s in outcome.steps] == ["song", "lyrics", "thumbnail", "analysis", "render"]


def test_the_portable_spec_writes_out_this_machines_settings(no_config, monkeypatch):
    (no_config / "words.txt").write_text("[Verse]\nHello there\n")
    monkeypatch.setenv("MVFLOW_TRANSCRIBER", "local")
    monkeypatch.setenv("MVFLOW_FPS", "12")
    spec = spec_from({"caption": "pop", "lyrics_file": "words.txt", "output_dir": "videos"})
    portable = portable_spec(spec, no_config)

    assert portable["transcriber"] == "local" and portable["fps"] == 12 and portable["engine"] == "local"
    assert portable["output_dir"] == str(no_config / "videos")  # absolute: workers run in other folders
    assert portable["lyrics"] == "[Verse]\nHello there\n" and "lyrics_file" not in portable
    mine = flow_params(spec, base_dir=no_config)
    monkeypatch.delenv("MVFLOW_TRANSCRIBER")  # a worker without this machine's settings...
    monkeypatch.delenv("MVFLOW_FPS")
    monkeypatch.chdir(no_config.parent)  # ...in another folder
    theirs = flow_params(spec_from(portable))
    assert theirs == mine  # the same inputs, so the same cache keys: a worker's video is the batch's video
