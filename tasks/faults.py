"""What a user reads when a step finally fails: one line, and no traceback for a known fault.

`tasks.artifacts.is_transient` decides whether a fault is worth *retrying*; this module
decides what is *said* once the retries are over. Known faults are the user-fixable ones
(PermanentError: a bad key, bad input) and the transient ones (a server that is down, slow,
rate limiting or dropping connections): for both the cause is outside the program, so a
traceback would only hide the one line that matters. Anything else is a bug and keeps its
traceback.

Raw httpx errors say little on their own ("[Errno 111] Connection refused"), so they are
rewritten to name the server (scheme, host and port only: never a path or query, which may
name files) and what to check.
"""

from __future__ import annotations

import httpx

from tasks.artifacts import PermanentError, is_transient

#: Said after a transient fault's own message, once the step's retries are used up.
GAVE_UP = "still failing after the step's retries; try again later"
#: Said instead where nothing retried (a command that calls a provider directly).
NOT_RETRIED = "a temporary fault; try again later"
MAX_CHARS = 400


def is_known_fault(exc: BaseException) -> bool:
    """True when the exception is a user-fixable or transient fault, i.e. not a bug."""
    return isinstance(exc, PermanentError) or is_transient(exc)


def fault_line(exc: BaseException, retried: bool = True) -> str:
    """The single line a user sees for `exc` (on the terminal, in a batch's summary table).

    `retried` says whether a step's retries came first (they do in every flow run).
    """
    after = GAVE_UP if retried else NOT_RETRIED
    if isinstance(exc, PermanentError):
        return _one_line(str(exc))
    if isinstance(exc, httpx.TransportError):
        return _one_line(f"{_transport_line(exc)} ({after})")
    if is_transient(exc):
        return _one_line(f"{exc} ({after})")
    return _one_line(f"{type(exc).__name__}: {exc}")


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


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_CHARS else flat[: MAX_CHARS - 1] + "…"
