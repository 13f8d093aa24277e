"""The `acestep` song engine: mvflow's client of an ACE-Step 1.5 server (`--engine acestep`).

`client` speaks the REST API (shared/acestep-api.md: /release_task + /query_result polling,
/v1/audio downloads, /v1/chat/completions, LoRA and inventory routes), `payload` builds request
bodies and reads answers (pure functions), `options` validates the engine options a request
carries, `server_info` finds out what a server can do (and whether its LM is loaded), `engine`
runs a native generation (submit, poll, tell a lost task, download), `completion` runs completion
mode (and uploads a server cannot take), `song` says what the server actually made and where it
differs from the request, `failures` words a failed job, `lora` loads adapters, and `doctor`
checks a server for `mvflow doctor`. Product code: this is how videos are made on a GPU server.

`ENGINE` (below) is what the song engine registry (mvflow.song.engines) resolves "acestep" to:
it answers what the flow asks an engine (submit + poll in native mode, the server's host:port
for its concurrency limit) and imports the modules above only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvflow.models import Song, SongRequest
from mvflow.song.engines import Engine

if TYPE_CHECKING:
    from mvflow.registry import Check
    from mvflow.settings import Settings
    from mvflow.song.acestep.engine import AceStepJob


class AceStepEngine(Engine):
    """Generates on an ACE-Step server; the server (host:port) is what its concurrency limit guards."""

    name = "acestep"
    description = "an ACE-Step 1.5 server"

    def runs_submit_and_poll(self, request: SongRequest) -> bool:
        """The native API (/release_task + /query_result) is; completion mode is one blocking call per audio.

        A native request with uploads is one step too: a server that cannot take uploads makes the song
        in completion mode instead (its submission.json still keeps a crash from submitting twice).
        """
        from mvflow.song.acestep.options import AceStepOptions

        options = AceStepOptions.from_request(request)
        return options.api_mode == "native" and not options.has_uploads()

    def server(self, request: SongRequest) -> str:
        """'host:port' of the request's server (the scheme's default port when the URL has none)."""
        from mvflow.song.acestep.options import AceStepOptions

        return host_port(AceStepOptions.from_request(request).api_url)

    def _urls(self, request: SongRequest) -> dict[str, str]:
        """host:port -> URL of every server the request may use (`--api-url A,B`: a pool)."""
        from mvflow.song.acestep.options import AceStepOptions

        options = AceStepOptions.from_request(request)
        return {host_port(url): url for url in options.api_urls or [options.api_url]}

    def servers(self, request: SongRequest) -> list[str]:
        return list(self._urls(request))

    def on_server(self, request: SongRequest, server: str) -> SongRequest:
        return request.model_copy(update={"engine_options": {**request.engine_options,
                                                             "api_url": self._urls(request)[server]}})

    def why_down(self, request: SongRequest, server: str) -> str | None:
        """A quick GET /health (3 s): a pool must not wait a minute on a server that is off."""
        import httpx

        url = self._urls(request)[server].rstrip("/") + "/health"
        try:
            httpx.get(url, timeout=3.0).raise_for_status()
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def audio_request(self, request: SongRequest) -> SongRequest:
        from mvflow.song.acestep.options import submission_request

        return submission_request(request)

    def request_options(self, fields: dict[str, Any], settings: Settings) -> dict[str, Any]:
        """AceStepOptions from the given fields over the settings' server; uploads checked and pinned."""
        from mvflow.inputs import check_audio_file
        from mvflow.song.acestep.options import AceStepOptions

        for upload in ("src_audio", "reference_audio"):
            if fields.get(upload) is not None:
                check_audio_file(fields[upload], "upload audio")
        given = dict(fields)
        if settings.acestep_max_download_mb is not None:
            given.setdefault("max_download_mb", settings.acestep_max_download_mb)
        urls = [url.strip() for url in settings.acestep_api_url.split(",") if url.strip()]
        pool = {"api_urls": urls} if len(urls) > 1 else {}
        options = AceStepOptions(api_url=urls[0], api_mode=settings.acestep_api_mode, **pool, **given)
        return options.pinned().model_dump(mode="json", exclude_none=True)

    def generate(self, request: SongRequest, out_dir: Path) -> Song:
        """Submit + poll (or one completion call) in one go, reporting the server's progress."""
        from mvflow.song.acestep.engine import generate_acestep_song, step_progress_callback

        return generate_acestep_song(request, out_dir, step_progress_callback())

    def submit(self, request: SongRequest, out_dir: Path) -> AceStepJob:
        from mvflow.song.acestep.engine import submit_song

        return submit_song(request, out_dir)

    def poll(self, job: AceStepJob, request: SongRequest, out_dir: Path) -> Song:
        from mvflow.song.acestep.engine import poll_song, step_progress_callback

        return poll_song(job, request, out_dir, step_progress_callback())

    def checks(self, settings: Settings) -> list[Check]:
        """The configured server(s): reachable, healthy, which models, key accepted, its LM (acestep/doctor.py);
        required (a failure makes doctor exit 1) when ACE-Step is the configured engine."""
        from mvflow.song.acestep.doctor import check_acestep

        required = settings.engine == self.name
        return [row for url in settings.acestep_api_url.split(",") if url.strip()
                for row in check_acestep(url.strip(), required=required)]


def host_port(api_url: str) -> str:
    """'host:port' of a server URL (the scheme's default port when it has none): its limit's name."""
    from urllib.parse import urlsplit

    url = urlsplit(api_url)
    return f"{url.hostname}:{url.port or (443 if url.scheme == 'https' else 80)}"


ENGINE = AceStepEngine()
