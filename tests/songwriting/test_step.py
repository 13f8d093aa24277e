"""write_song as a Prefect step: cached on the idea, the songwriter, its model and the prompt template; retried
after a 429 with the server's Retry-After; its files verified after a cache hit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prefect import flow

from mvflow.flows.steps import StepRunner
from mvflow.models import SongIdea, SongwriterOptions
from mvflow.songwriting import plan_dir, write_song
from mvflow.songwriting.prompt import template_text
from tests.songwriting.test_openai import PLAN
from tests.support.chat_server import OpenAIChatServer
from tests.support.stub_http import Fault

IDEA = SongIdea(idea="a synthwave song about night driving", duration=40)


@flow
def plan_twice(out: str, results: str, first: SongwriterOptions, second: SongwriterOptions) -> list[str]:
    """write_song with `first`, then with `second` (each through its own runner, as two runs would)."""
    statuses = []
    for options in (first, second):
        runner = StepRunner(result_storage=Path(results))
        runner.run("write", options.provider, write_song, uses_cpu=False, idea=IDEA, out_dir=out, options=options)
        statuses.append(runner.steps[0].status)
    return statuses


@pytest.fixture
def chat():
    with OpenAIChatServer(api_key=None, models=("m1", "m2")) as srv:
        srv.answer_always(PLAN)
        yield srv


def options(srv: OpenAIChatServer, **more) -> SongwriterOptions:
    return SongwriterOptions(provider="openai", model="m1", base_url=srv.base_url, **more)


def test_the_same_idea_and_songwriter_is_cached(prefect_harness, tmp_path, chat):
    same = options(chat)
    assert plan_twice(str(tmp_path / "out"), str(tmp_path / "r"), same, same) == ["ran", "cached"]
    assert len(chat.chats) == 1


@pytest.mark.parametrize("change", ["model", "prompt", "server"])
def test_the_cache_key_holds_the_model_the_prompt_template_and_the_server(prefect_harness, tmp_path, chat, change):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text(template_text().replace("songwriter and record producer", "folk songwriter"))
    with OpenAIChatServer(api_key=None, models=("m1",)) as other:
        other.answer_always(PLAN)
        changed = {"model": options(chat).model_copy(update={"model": "m2"}),
                   "prompt": options(chat, prompt=str(prompt)),
                   "server": options(other)}[change]
        statuses = plan_twice(str(tmp_path / "out"), str(tmp_path / "r"), options(chat), changed)
    assert statuses == ["ran", "ran"]
    folders = sorted(p.name for p in (tmp_path / "out").glob("plan-*"))
    assert len(folders) == 2  # each writer's plan in its own folder: a new writer never reuses the old plan


def test_a_provider_change_is_a_new_plan_too(tmp_path):
    openai = SongwriterOptions(provider="openai", model="acestep-lm", base_url="http://127.0.0.1:1")
    acestep = openai.model_copy(update={"provider": "acestep"})
    assert plan_dir(IDEA, tmp_path, openai) != plan_dir(IDEA, tmp_path, acestep)


def test_a_deleted_plan_file_writes_the_plan_again(prefect_harness, tmp_path, chat):
    @flow
    def then_delete(out: str) -> list[str]:
        statuses = []
        for _ in range(2):
            runner = StepRunner(result_storage=tmp_path / "r")
            plan = runner.run("write", "openai", write_song, uses_cpu=False, idea=IDEA, out_dir=out,
                              options=options(chat))
            statuses.append(runner.steps[0].status)
            Path(plan.plan_file.path).unlink(missing_ok=True)
        return statuses

    assert then_delete(str(tmp_path / "out")) == ["ran", "re-ran"]
    assert len(chat.chats) == 2


def test_a_429_is_retried_after_the_servers_retry_after(prefect_harness, tmp_path, chat, monkeypatch):
    monkeypatch.setenv("MVFLOW_RETRY_DELAY", "0")
    chat.inject(Fault.error(429, "Rate limit reached", "rate_limit_exceeded", headers={"Retry-After": "2"}),
                Fault.error(502, "Bad gateway"))

    @flow
    def once(out: str) -> str:
        runner = StepRunner(result_storage=tmp_path / "r")
        return runner.run("write", "openai", write_song, uses_cpu=False, idea=IDEA, out_dir=out,
                          options=options(chat)).title

    started = time.monotonic()
    assert once(str(tmp_path / "out")) == "Neon Highway"
    times = [r.received for r in chat.chats]
    assert len(times) == 3 and times[1] - times[0] >= 2.0  # waited what the server asked
    assert time.monotonic() - started < 60
