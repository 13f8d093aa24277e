"""The `acestep` songwriter against `mvflow engine serve`'s LM endpoints: newer servers (/v1/create_sample,
`upstream="latest"`), older ones (an analysis-only job, the server's default upstream f30aee4), a server
without its LM, keys, and the repair round-trip."""

from __future__ import annotations

import httpx
import pytest

from mvflow.errors import AceStepAuthError, InputError, PermanentError, SongwriterError, is_transient
from mvflow.models import SongIdea, SongRequest, SongwriterOptions
from mvflow.settings import Settings
from mvflow.song.devserver.behaviour import Behaviour
from mvflow.song.devserver.plan import LM_MODEL
from mvflow.song.devserver.server import start_in_thread
from mvflow.songwriting import make_plan
from mvflow.songwriting.acestep_writer import SONGWRITER, lm_status, query_for
from mvflow.songwriting.checks import title_from_lyrics
from mvflow.songwriting.providers import SONGWRITERS, choose_songwriter, songwriter_options
from mvflow.songwriting.sheet import read_sheet

#: Later releases: /v1/create_sample, and /health says whether the LM is loaded and which one.
LATEST = Behaviour(upstream="latest")
IDEA = SongIdea(idea="a melancholic piano song about an empty train station at night", duration=40, bpm=90,
                key_scale="D minor", language="en")


@pytest.fixture
def server(tmp_path, request):
    """A built-in server; the test's `server_config` marker sets its behaviour (upstream, LM) / api_key."""
    marker = request.node.get_closest_marker("server_config")
    config = dict(marker.kwargs) if marker else {}
    url, stop = start_in_thread(audio_dir=tmp_path / "audio", **config)
    try:
        yield url
    finally:
        stop()


def settings_for(url: str, **more) -> Settings:
    return Settings(engine="acestep", acestep_api_url=url, **more)


def stats(url: str) -> dict:
    return httpx.get(f"{url}/v1/stats").json()["data"]["jobs"]


@pytest.mark.server_config(behaviour=LATEST)
def test_the_lm_writes_from_the_idea_and_the_users_values_hold(server, tmp_path, no_config):
    settings = settings_for(server)
    assert choose_songwriter("auto", settings, None) == "acestep"
    options = SONGWRITER.options(settings, None)
    assert (options.model, options.base_url) == (LM_MODEL, server)
    plan = make_plan(IDEA, tmp_path, options)
    assert plan.provider == "acestep" and not plan.repaired
    assert (plan.duration, plan.bpm, plan.key_scale, plan.language) == (40, 90, "D minor", "en")
    assert plan.caption.startswith("melancholic ballad, piano")  # what the server's LM made of the idea
    sheet = read_sheet(plan.lyrics)
    assert [s.name for s in sheet.sections] == ["Verse", "Chorus"] and len(sheet.sung_lines) == 4
    hook = sheet.sections[1].lines[0]  # the LM gives no title: the chorus's first phrase, at most five words
    assert plan.title == title_from_lyrics(plan.lyrics, "") and hook.title().startswith(plan.title)
    assert stats(server)["total"] == 0  # /v1/create_sample and /format_input: no generation job


def test_an_older_server_writes_through_an_analysis_job_without_audio(server, tmp_path, no_config):
    plan = make_plan(IDEA, tmp_path, SONGWRITER.options(settings_for(server), None))
    assert plan.caption.startswith("melancholic ballad") and len(read_sheet(plan.lyrics).sung_lines) == 4
    assert stats(server) == {"total": 1, "queued": 0, "running": 0, "succeeded": 1, "failed": 0}
    assert not list((tmp_path / "audio").iterdir())  # the LM wrote; the DiT made nothing


@pytest.mark.server_config(behaviour=Behaviour(upstream="latest", lm=False))
def test_a_server_without_its_lm_is_said_plainly(server, tmp_path, no_config):
    settings = settings_for(server)
    assert lm_status(server) == (False, f"{server} says its LM is not loaded: start the server with "
                                        "ACESTEP_INIT_LLM=true, or use --songwriter openai")
    with pytest.raises(InputError) as info:
        choose_songwriter("auto", settings, None)
    line = str(info.value)
    assert line.startswith("no songwriter for --idea: set OPENAI_API_KEY (OpenAI), or songwriter_base_url")
    assert "--engine acestep with a server whose LM is loaded" in line and f"(acestep: {server} says its LM" in line
    with pytest.raises(PermanentError, match="songwriter acestep: .* says its LM is not loaded"):
        SONGWRITER.options(settings, None)


@pytest.mark.server_config(behaviour=Behaviour(upstream="latest", lm=False))
def test_the_lm_routes_answering_503_are_permanent_not_retried(server, tmp_path, no_config):
    """Without asking /health first (options given): the LM routes answer 503 "LLM not initialized"."""
    options = SongwriterOptions(provider="acestep", model="acestep-lm", base_url=server, key_from="acestep")
    with pytest.raises(PermanentError) as info:
        make_plan(IDEA, tmp_path, options)
    assert not is_transient(info.value)
    assert "the ACE-Step server's LM is not loaded" in str(info.value) and "ACESTEP_INIT_LLM=true" in str(info.value)


@pytest.mark.server_config(api_key="ace-key-123")
def test_the_servers_key_is_sent_and_a_wrong_one_is_one_line(server, tmp_path, no_config, monkeypatch):
    monkeypatch.setenv("ACESTEP_API_KEY", "ace-key-123")
    options = SONGWRITER.options(settings_for(server), None)
    assert make_plan(IDEA, tmp_path, options).title
    monkeypatch.setenv("ACESTEP_API_KEY", "wrong")
    with pytest.raises(AceStepAuthError, match="rejected the API key"):
        make_plan(IDEA.model_copy(update={"seed": 2}), tmp_path, options)


def test_lyrics_that_cannot_fit_get_one_more_try_then_a_clear_error(server, tmp_path, no_config):
    tiny = IDEA.model_copy(update={"duration": 4.0})
    with pytest.raises(SongwriterError) as info:
        make_plan(tiny, tmp_path, SONGWRITER.options(settings_for(server), None))
    assert stats(server)["succeeded"] == 2  # the first answer and the one repair
    assert "wrote no usable plan, even after one repair" in str(info.value)
    assert info.value.problems[0].startswith("the lyrics do not fit: 4 sung lines need about")
    assert query_for(tiny, short=True).endswith("a short song of about 4 seconds")


def test_auto_picks_the_engines_server_from_the_request(server, no_config):
    request = SongRequest(caption="", engine="acestep", engine_options={"api_url": server})
    options = songwriter_options(Settings(acestep_api_url="http://127.0.0.1:9"), request)
    assert (options.provider, options.base_url, options.key_from) == ("acestep", server, "acestep")
    with pytest.raises(InputError, match="no songwriter for --idea"):  # the local engine has no LM
        choose_songwriter("auto", Settings(), SongRequest(caption=""))


@pytest.mark.server_config(behaviour=LATEST)
def test_doctor_rows_say_which_songwriter_and_why(server, no_config):
    rows = {row.name: row for row in SONGWRITERS.checks(settings_for(server))}
    assert rows["songwriter: acestep"].ok and rows["songwriter: acestep"].detail == (
        f"LM {LM_MODEL} loaded at {server}")
    assert rows["songwriter: auto"].ok and rows["songwriter: auto"].detail == "--idea would use acestep"
    assert not rows["songwriter: openai"].ok
    local = {row.name: row for row in SONGWRITERS.checks(Settings())}
    assert not local["songwriter: auto"].ok and "no songwriter for --idea" in local["songwriter: auto"].detail
    assert local["songwriter: acestep"].detail.startswith("needs --engine acestep")
