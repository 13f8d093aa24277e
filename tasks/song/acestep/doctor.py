"""`mvflow doctor` checks of an ACE-Step server: reachable, healthy, which models, key accepted.

Each problem is said in one line with its fix. The key is shown only as set/unset.
"""

from __future__ import annotations

import httpx

from mvflow.errors import AceStepAuthError, AceStepError
from mvflow.registry import Check
from mvflow.settings import api_key as configured_key
from mvflow.song.acestep.client import AceStepClient

UNSET = object()


def check_acestep(api_url: str, api_key: str | None | object = UNSET, timeout: float = 5.0) -> list[Check]:
    """Checks, in order; later ones are skipped when the server cannot be reached."""
    key = configured_key("acestep") if api_key is UNSET else api_key
    with AceStepClient(api_url, api_key=key, timeout=timeout) as client:  # type: ignore[arg-type]
        reach = _health(client, api_url)
        if not reach.ok:
            return [reach]
        return [reach, _models(client), _auth(client, bool(key))]


def _health(client: AceStepClient, url: str) -> Check:
    name = "acestep: server"
    try:
        data = client.health()
    except httpx.TransportError as exc:
        return Check(name, False, f"cannot reach {url} ({type(exc).__name__}): start the server "
                                  "(`mvflow engine serve`) or set the ACE-Step URL")
    except (AceStepError, httpx.HTTPStatusError) as exc:
        return Check(name, False, f"{url} answered, but not like ACE-Step: {exc}")
    status = data.get("status", "?") if isinstance(data, dict) else "?"
    return Check(name, status == "ok", f"{url} health: {status}")


def _models(client: AceStepClient) -> Check:
    try:
        names = client.models()
    except (AceStepError, httpx.HTTPError) as exc:
        return Check("acestep: models", False, f"cannot list models: {exc}")
    return Check("acestep: models", bool(names), ", ".join(names) or "the server lists no model")


def _auth(client: AceStepClient, key_set: bool) -> Check:
    """/v1/stats needs the header whenever the server has a key: a cheap, side-effect-free probe."""
    state = "ACESTEP_API_KEY set" if key_set else "ACESTEP_API_KEY unset"
    try:
        client.stats()
    except AceStepAuthError as exc:
        return Check("acestep: auth", False, f"{exc} ({state})")
    except (AceStepError, httpx.HTTPError) as exc:
        return Check("acestep: auth", False, f"could not check the key: {exc}")
    return Check("acestep: auth", True, f"accepted ({state})" if key_set else "server needs no key")
