"""Every error mvflow raises on purpose, how it is classified, and the one line a user reads.

The hierarchy (every class is defined here; modules import what they raise)::

    MvflowError                  root: raised on purpose by mvflow (anything else is a bug)
    ├── PermanentError           retrying cannot help; str(exc) is the whole message a user reads
    │   ├── InputError           a file, value or setting the user gave (bad LRC, bad flag, bad config)
    │   │   ├── LrcError             an LRC line that cannot be read
    │   │   ├── LyricsFileError      a timed-lyrics file that cannot be read
    │   │   └── SpecError            a request (make flags, a batch entry) that cannot run
    │   │       └── BatchError       a batch file with problems (all of them, in .problems)
    │   ├── DiskFullError        a write found no room; the temp file is removed
    │   ├── EncodingError        an encoding request that cannot be met
    │   ├── ProviderUnavailable  an optional provider cannot load here (faster-whisper, espeak-ng)
    │   ├── GeminiBlocked        Gemini answered without an image (a refusal)
    │   ├── SongwriterError      a songwriter refused, or its plan still had problems after one repair
    │   └── AceStepError         ACE-Step refused or answered something unusable
    │       ├── AceStepAuthError, AceStepDownloadError, AceStepTimeout
    │       ├── AceStepJobFailed  the job failed (status 2, or a completion 500 with the traceback)
    │       │   └── AceStepLmUnavailable  …because the server's LM is not loaded
    │       ├── AceStepGenerationTimeout  the server's own 504 (its job keeps running): never resent
    │       ├── AceStepGatewayTimeout     a proxy's 504, still there after the client's retries
    │       ├── AceStepUnsupported  the server is too old for what was asked (a format, LoRA, uploads)
    │       └── AceStepLostTask  the server forgot the task: the flow resubmits once
    ├── TransientError           a later attempt may work: a service down, slow, rate limiting
    │   ├── ServiceError         a cloud call's 429/5xx or unreadable answer (status_code, retry_after)
    │   ├── GeminiUnavailable    Gemini overloaded or unreachable (also a ConnectionError)
    │   └── AceStepSlowDownload  an audio download outlasted its deadline (also a TimeoutError)
    └── InternalSignal           control flow inside one module; caught there, never reaches a user
        ├── ModelNotFound        a Gemini model name answered 404: try the next one
        ├── UnparsableBody       devserver: a JSON body that does not parse (upstream answers 500)
        ├── ChatRequestError     devserver: a chat request it cannot read (answered 400)
        ├── JobRejected          devserver: a job the built-in engine cannot run (status 2)
        └── UploadsRejected      the ACE-Step server cannot take uploads: the song goes through completion mode

Two questions are answered here for every exception, ours or a library's:
- *retry?* `is_transient`: our TransientErrors, network faults (httpx), HTTP 408/429/5xx from
  any SDK, TimeoutError/ConnectionError. Never a PermanentError. Prefect's retry hook
  (mvflow.retries) asks this.
- *what does the user read?* `fault_line`: a PermanentError's message as is; a transient fault
  with what was tried; a raw network fault rewritten to name the server (scheme, host, port:
  never a path, which may name files); anything else is a bug and reads as one.
  `is_known_fault` tells the two apart so the CLI hides tracebacks only for known faults.

Some classes also derive from a builtin (ValueError, ConnectionError, TimeoutError) because
callers and libraries catch those; `validation_line` is the one place a pydantic error
becomes one line.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from pydantic import ValidationError


class MvflowError(Exception):
    """Root of every error mvflow raises on purpose."""


class PermanentError(MvflowError, RuntimeError):
    """A fault retrying cannot fix (bad input, wrong key). Its message is shown to the user as is."""


class TransientError(MvflowError):
    """A fault a later attempt may fix. `status_code` (HTTP, or None for a network fault) and
    `retry_after` (seconds the server asked to wait, or None) travel with it, also through pickling
    (Prefect may pickle a failed run's exception)."""

    def __init__(self, message: str, status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after

    def __reduce__(self) -> tuple:
        return (type(self), (str(self), self.status_code, self.retry_after))


# ---- permanent ------------------------------------------------------------------------------------

class InputError(PermanentError, ValueError):
    """A file or value the user gave that cannot be used; the message says which and how to fix it."""


class LrcError(InputError):
    """An LRC file line that cannot be read; the message names the line."""


class LyricsFileError(InputError):
    """A lyrics file that cannot be read as timed lyrics; the message says which and why."""


class SpecError(InputError):
    """A request that cannot be run as given; the message names the field."""


class BatchError(SpecError):
    """A batch file that cannot run; `problems` lists every one (entry/row and field)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def __reduce__(self) -> tuple:
        return (type(self), (self.problems,))


class DiskFullError(PermanentError):
    """A write failed because the disk (or the process's file size limit) is full.

    Permanent: retrying at once cannot help. The temporary file is removed, so nothing
    half-written is left looking finished, and files written before stay as they were.
    """


class EncodingError(PermanentError, ValueError):
    """An encoding request that cannot be met (unknown or missing codec, impossible size)."""


class ProviderUnavailable(PermanentError, ValueError):
    """An optional provider cannot run on this machine (its package or model is missing)."""


class GeminiBlocked(PermanentError):
    """A 200 answer without an image: the prompt or the picture was refused. Retrying the same
    prompt gets the same answer, so this is permanent; `reason` is Gemini's finish/block reason."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple:
        return (type(self), (str(self), self.reason))


class SongwriterError(PermanentError):
    """A songwriter refused the idea, or its song plan still had problems after the one repair round-trip.

    `problems` lists what was wrong (one line each); the message says them all, so the user sees why.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    def __reduce__(self) -> tuple:
        return (type(self), (str(self), self.problems))


class AceStepError(PermanentError):
    """ACE-Step refused the request or answered something unusable; retrying will not help."""


class AceStepAuthError(AceStepError):
    """401: the key is missing or not the server's key."""


class AceStepDownloadError(AceStepError):
    """403/404 on /v1/audio: the file is outside the server's audio folder or gone."""


class AceStepJobFailed(AceStepError):
    """The job ended with status 2."""


class AceStepLmUnavailable(AceStepJobFailed):
    """The job needed the server's 5Hz LM (thinking, format, description, random sample) and it is not loaded."""


class AceStepLostTask(AceStepError):
    """The server no longer works on the task (it restarted: the id is unknown, or the task stays at its
    last stage while the server runs nothing). Resubmit once."""


class AceStepGenerationTimeout(AceStepError):
    """The server's own 504 `Generation timeout` in completion mode: counted from queueing, the job keeps
    running on the server, and completion mode cannot fetch it later. Resending would start another job."""


class AceStepGatewayTimeout(AceStepError):
    """A proxy in front of the server answered 504 on every try the client made (with backoff)."""


class AceStepUnsupported(AceStepError):
    """The server is too old (or too new) for what the request asks: a format, repaint modes, LoRA, uploads."""


class AceStepTimeout(AceStepError):
    """The job was still running when the client's deadline passed."""


# ---- transient ------------------------------------------------------------------------------------

class ServiceError(TransientError):
    """A cloud call failed in a way a later retry may fix (HTTP 429 or 5xx, an unreadable answer)."""


class GeminiUnavailable(TransientError, ConnectionError):
    """Gemini is overloaded, rate limited or unreachable right now."""


class AceStepSlowDownload(TransientError, TimeoutError):
    """An audio download outlasted its overall deadline (a server sending too slowly for any one
    read to time out)."""


# ---- internal signals ------------------------------------------------------------------------------

class InternalSignal(MvflowError):
    """Control flow inside one module, caught there; it never reaches a user or a retry decision."""


class ModelNotFound(InternalSignal):
    """This Gemini model name answered 404: move on to the next one."""


class UnparsableBody(InternalSignal):
    """The development server got a JSON Content-Type with a body that does not parse: upstream
    answers a plain-text 500."""


class ChatRequestError(InternalSignal, ValueError):
    """The development server cannot read a chat-completions request: answered with 400 and this message."""


class JobRejected(InternalSignal, RuntimeError):
    """The development server's job cannot run on the built-in engine (it needs the real DiT or LM)."""


class UploadsRejected(InternalSignal):
    """The ACE-Step server cannot take multipart uploads (builds before the fix answer 500): the ACE-Step
    engine sends the source audio inline through completion mode instead, or says why it cannot."""


# ---- disk full ------------------------------------------------------------------------------------

#: errno values meaning "no room": no space, quota exceeded, file size limit (RLIMIT_FSIZE).
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
#: What a child process (ffmpeg) prints for the same conditions.
_NO_ROOM_TEXT = ("No space left on device", "Disk quota exceeded", "File too large")


def is_disk_full(exc: BaseException) -> bool:
    """True when `exc` says the disk is full: an OSError's errno, or a tool's message saying so."""
    if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
        return True
    return any(text in str(exc) for text in _NO_ROOM_TEXT)


def disk_full_error(path: Path, exc: BaseException) -> DiskFullError:
    """One line: which file could not be written, the free space left, and the fix."""
    try:
        free = f"{shutil.disk_usage(path.parent).free / 1024 / 1024:.0f} MB free"
    except OSError:
        free = "free space unknown"
    said = [text for text in _NO_ROOM_TEXT if text in str(exc)]  # what a tool (ffmpeg) printed
    reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else (said or ["no space left"])[0]
    return DiskFullError(f"disk full: could not write {path} ({reason}; {free} in {path.parent}); "
                         "free some space and run again")


# ---- retry? ---------------------------------------------------------------------------------------

def _network_error_types() -> tuple[type[BaseException], ...]:
    """httpx's network errors, plus httpx2's (google-genai 3.x sends through that fork when present)."""
    found: list[type[BaseException]] = [httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError]
    try:
        import httpx2
    except ImportError:
        return tuple(found)
    return (*found, httpx2.TransportError)


_NETWORK_ERRORS = _network_error_types()


def status_code_of(exc: BaseException) -> int | None:
    """The HTTP status an error carries: httpx (.response), openai and ours (.status_code), google-genai (.code)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code
    status = getattr(exc, "status_code", None)
    if status is None and type(exc).__module__.startswith("google.genai"):
        status = getattr(exc, "code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """True for faults worth retrying: ours, timeouts, dropped connections, HTTP 408, 429 and 5xx."""
    if isinstance(exc, PermanentError):
        return False
    if isinstance(exc, (TransientError, *_NETWORK_ERRORS)):
        return True
    status = status_code_of(exc)
    if status is not None:
        return status in (408, 429) or status >= 500
    return isinstance(exc, (TimeoutError, ConnectionError))


def is_known_fault(exc: BaseException) -> bool:
    """True when the exception is a user-fixable or transient fault, i.e. not a bug."""
    return isinstance(exc, PermanentError) or is_transient(exc)


# ---- what the user reads --------------------------------------------------------------------------

#: Said after a transient fault's own message, once the step's retries are used up.
GAVE_UP = "still failing after the step's retries; try again later"
#: Said instead where nothing retried (a command that calls a provider directly).
NOT_RETRIED = "a temporary fault; try again later"
MAX_CHARS = 400


def fault_line(exc: BaseException, retried: bool = True) -> str:
    """The single line a user sees for `exc` (on the terminal, in a batch's summary table).

    `retried` says whether a step's retries came first (they do in every flow run).
    """
    after = GAVE_UP if retried else NOT_RETRIED
    if isinstance(exc, PermanentError):
        return one_line(str(exc))
    if isinstance(exc, httpx.TransportError):
        return one_line(f"{_transport_line(exc)} ({after})")
    if is_transient(exc):
        return one_line(f"{exc} ({after})")
    return one_line(f"{type(exc).__name__}: {exc}")


def _transport_line(exc: httpx.TransportError) -> str:
    """A network fault that never produced an HTTP answer, naming the server and what to check."""
    where = _origin(exc)
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect to {where} in time: is the host up and reachable?"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {where} ({reason}): is the server running, and is the URL right?"
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} did not answer in time ({type(exc).__name__}): the server is overloaded or stuck"
    return f"the connection to {where} broke before the answer was complete ({reason})"


def _origin(exc: httpx.TransportError) -> str:
    """scheme://host:port of the request that failed (httpx errors raised outside a request have none)."""
    try:
        url = exc.request.url
    except RuntimeError:
        return "the server"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


def one_line(text: str, max_chars: int = MAX_CHARS) -> str:
    """`text` on one line (white space folded), cut with an ellipsis past `max_chars`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= max_chars else flat[: max_chars - 1] + "…"


def validation_line(exc: ValidationError, template: str = "{where}: {message}", where_if_empty: str = "value") -> str:
    """The first problem of a pydantic ValidationError as one line, e.g. `bad setting fps: ...`.

    `template` places `{where}` (the field's dotted path, or `where_if_empty`) and `{message}`
    (pydantic's message; "unknown field" for a field the model forbids).
    """
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or where_if_empty
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
    return template.format(where=where, message=message)
