"""Song engines: what the song step and the flow ask an engine, and the registry of them.

An engine object answers everything callers used to branch on its name for: whether the flow
runs it as submit + poll, which server it generates on (the concurrency limit guards that),
which of the request's options name the song (its folder and cache key), how the request's
flags become its options, how it generates, and what `mvflow doctor` checks for it.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mvflow.models import Song, SongRequest
from mvflow.registry import Provider, Registry

if TYPE_CHECKING:
    from mvflow.settings import Settings


class Engine(Provider):
    """A song engine. The defaults fit an engine that generates in one call on this machine."""

    role: ClassVar[str] = "song engine"

    def runs_submit_and_poll(self, request: SongRequest) -> bool:
        """True when the flow runs it as submit (cached: a restart re-uses the job) + poll (own deadline)."""
        return False

    def server(self, request: SongRequest) -> str:
        """Who generates the song, naming its concurrency limit `songs-<server>`: the engine itself here."""
        return self.name

    def servers(self, request: SongRequest) -> list[str]:
        """Every server that may generate the request: several interchangeable ones make a pool, and
        the song goes to whichever has a free slot of its limit. One (`server`) by default."""
        return [self.server(request)]

    def on_server(self, request: SongRequest, server: str) -> SongRequest:
        """The request aimed at `server`, one of `servers(request)`."""
        return request

    def why_down(self, request: SongRequest, server: str) -> str | None:
        """None when `server` answers now; else why not (a pool skips it while another is up)."""
        return None

    def audio_request(self, request: SongRequest) -> SongRequest:
        """The request without options that never change the audio (timeouts, polling): the song's
        folder and the submit's cache key are named by this, so raising a timeout makes no new song."""
        return request

    def request_options(self, fields: dict[str, Any], settings: Settings) -> dict[str, Any]:
        """SongRequest.engine_options from a request's song fields (given ones only) and the settings.

        Checked here, before any work, so a bad option is refused up front. None by default.
        """
        return {}

    @abstractmethod
    def generate(self, request: SongRequest, out_dir: Path) -> Song:
        """Make the whole song into `out_dir` (the song's own folder) in one call."""

    def submit(self, request: SongRequest, out_dir: Path) -> Any:
        """Submit engines: start the job and return what `poll` needs (small, picklable, no secret)."""
        raise NotImplementedError(f"song engine {self.name!r} generates in one step")

    def poll(self, job: Any, request: SongRequest, out_dir: Path) -> Song:
        """Submit engines: wait for the job and fetch the song into `out_dir`."""
        raise NotImplementedError(f"song engine {self.name!r} generates in one step")


ENGINES: Registry[Engine] = Registry(Engine, {
    "local": "mvflow.song.builtin:ENGINE",
    "acestep": "mvflow.song.acestep:ENGINE",
})


def engine_for(request: SongRequest) -> Engine:
    """The engine the request names; an unknown name is one line naming the engines."""
    return ENGINES.get(request.engine)
