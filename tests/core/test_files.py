import os

import httpx
import pytest

from mvflow.errors import PermanentError, is_transient
from mvflow.files import atomic_path, inputs_hash, slugify, step_dir, write_text_atomic
from mvflow.models import FileArtifact, SongRequest


def test_step_dir_differs_by_inputs(tmp_path):
    a = step_dir(tmp_path, "song", SongRequest(caption="x", seed=0))
    b = step_dir(tmp_path, "song", SongRequest(caption="x", seed=1))
    again = step_dir(tmp_path, "song", SongRequest(caption="x", seed=0))
    assert a != b and a == again and a.name.startswith("song-") and a.is_dir()


def test_inputs_hash_is_stable_and_order_sensitive():
    assert inputs_hash({"a": 1, "b": 2}) == inputs_hash({"b": 2, "a": 1})
    assert inputs_hash("a", "b") != inputs_hash("b", "a")


def test_atomic_path_leaves_no_half_file_on_crash(tmp_path):
    final = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_next_write_removes_temp_files_of_a_killed_writer_but_not_of_a_live_one(tmp_path):
    import subprocess
    import sys

    from mvflow.files import _HOST

    final = tmp_path / "song.mp4"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: a writer killed mid-encode
    dead = tmp_path / f".song.{_HOST}-{gone.pid}-abc123.part.mp4"
    live = tmp_path / f".song.{_HOST}-{os.getppid()}-def456.part.mp4"
    other = tmp_path / f".other.{_HOST}-{gone.pid}-abc123.part.mp4"
    for path in (dead, live, other):
        path.write_bytes(b"half an mp4")
    write_text_atomic(final, "whole")
    assert not dead.exists() and live.exists() and other.exists()
    assert final.read_text() == "whole"


def test_file_artifact_detects_change_and_deletion(tmp_path):
    art = write_text_atomic(tmp_path / "a.txt", "hello")
    assert art.is_intact()
    (tmp_path / "a.txt").write_text("hellO")
    assert not art.is_intact()
    (tmp_path / "a.txt").unlink()
    assert not art.is_intact()
    assert FileArtifact.from_path(write_text_atomic(tmp_path / "b.txt", "x").path).size == 1


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), True),
        (httpx.HTTPStatusError("busy", request=httpx.Request("GET", "http://x"),
                               response=httpx.Response(429)), True),
        (httpx.HTTPStatusError("boom", request=httpx.Request("GET", "http://x"),
                               response=httpx.Response(503)), True),
        (httpx.HTTPStatusError("bad", request=httpx.Request("GET", "http://x"),
                               response=httpx.Response(400)), False),
        (PermanentError("wrong key"), False),
        (ValueError("bad lrc"), False),
    ],
)
def test_only_transient_faults_are_retried(exc, transient):
    assert is_transient(exc) is transient


def test_slugify():
    assert slugify("Night Drive!") == "night-drive"
    assert slugify("夜") == "song"
    assert slugify("Café  Über") == "cafe-uber"


def test_google_genai_errors_are_classified_by_their_code():
    from google.genai import errors

    assert is_transient(errors.ServerError(503, {"error": {"message": "busy"}}))
    assert is_transient(errors.ClientError(429, {"error": {"message": "slow down"}}))
    assert not is_transient(errors.ClientError(400, {"error": {"message": "bad"}}))
