"""The step contract: every step returns a StepResult whose own files are verified after a cache hit."""

from __future__ import annotations

import pytest
from prefect import flow, task
from pydantic import BaseModel

from mvflow.files import write_text_atomic
from mvflow.flows.steps import StepRunner
from mvflow.models import FileArtifact, StepResult
from mvflow.retries import STEP_CACHE_POLICY


class Note(StepResult):
    """A one-file step result for these tests."""

    file: FileArtifact

    def own_files(self) -> list[FileArtifact]:
        return [self.file]


class Untyped(BaseModel):
    path: str


@task(cache_policy=STEP_CACHE_POLICY)
def write_note(folder: str, text: str) -> Note:
    return Note(file=write_text_atomic(f"{folder}/note.txt", text))


@task
def untyped_step(folder: str) -> Untyped:
    return Untyped(path=folder)


def test_a_step_result_must_say_what_its_files_are():
    class Forgetful(StepResult):
        path: str

    with pytest.raises(TypeError, match="own_files"):
        Forgetful(path="x")


def test_a_cached_step_whose_file_was_deleted_runs_again(prefect_harness, tmp_path):
    @flow
    def twice(folder: str) -> list[str]:
        statuses = []
        for _ in range(2):
            runner = StepRunner(result_storage=tmp_path / "results")
            note = runner.run("note", "test", write_note, folder=folder, text="hello")
            statuses.append(runner.steps[0].status)
            if len(statuses) == 1:
                assert note.file.is_intact()
                (tmp_path / "out" / "note.txt").unlink()
        return statuses

    (tmp_path / "out").mkdir()
    assert twice(str(tmp_path / "out")) == ["ran", "re-ran"]
    assert (tmp_path / "out" / "note.txt").read_text() == "hello"


def test_a_step_returning_something_else_is_refused(prefect_harness, tmp_path):
    @flow
    def run_untyped() -> None:
        StepRunner(result_storage=tmp_path / "results").run("untyped", "test", untyped_step, folder=str(tmp_path))

    with pytest.raises(TypeError, match="not a StepResult"):
        run_untyped()
