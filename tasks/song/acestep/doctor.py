"""`mvflow doctor` checks of an ACE-Step server: reachable, healthy, models, key accepted, LM, inventory.

Each problem is said in one line with its fix. The key is shown only as set/unset. When ACE-Step
is in use (the configured engine, or `mvflow doctor --api-url`), the server, models and key rows
are required: a server that cannot be reached or rejects the key makes doctor exit 1. The LM row
fails without being required (only --thinking, --use-format, -d and --random need the LM), and
the inventory row is informational (only later releases have /v1/model_inventory).
"""

from __future__ import annotations

import httpx

from mvflow.errors import AceStepAuthError, AceStepError
from mvflow.registry import Check
from mvflow.settings import api_key as configured_key
from mvflow.song.acestep.client import AceStepClient
from mvflow.song.acestep.server_info import OLD_SERVER, ServerInfo, lm_status

UNSET = object()


def check_acestep(api_url: str, api_key: str | None | object = UNSET, timeout: float = 5.0,
                  required: bool = False) -> list[Check]:
    """Checks, in order; later ones are skipped when the server cannot be reached or refuses the key."""
    key = configured_key("acestep") if api_key is UNSET else api_key
    with AceStepClient(api_url, api_key=key, timeout=timeout) as client:  # type: ignore[arg-type]
        reach, health = _health(client, api_url)
        rows = [reach]
        if reach.ok:
            rows += [_models(client), auth := _auth(client, bool(key))]
            if auth.ok:
                info = ServerInfo(health)
                rows += [_lm(client, info), _inventory(client, info)]
    for row in rows[:3]:
        row.required = required
    return rows


def _health(client: AceStepClient, url: str) -> tuple[Check, dict]:
    name = "acestep: server"
    try:
        data = client.health()
    except httpx.TransportError as exc:
        return Check(name, False, f"cannot reach {url} ({type(exc).__name__}): start the server "
                                  "(`mvflow engine serve`) or set the ACE-Step URL"), {}
    except (AceStepError, httpx.HTTPStatusError) as exc:
        return Check(name, False, f"{url} answered, but not like ACE-Step: {exc}"), {}
    data = data if isinstance(data, dict) else {}
    status = data.get("status", "?")
    api = "later release" if ServerInfo(data).newer_api else "f30aee4-era API"
    return Check(name, status == "ok", f"{url} health: {status} ({api})"), data


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


def _lm(client: AceStepClient, info: ServerInfo) -> Check:
    """Whether the server's 5Hz LM is loaded (mvflow's default --thinking needs it)."""
    try:
        status = lm_status(client, info)
    except (AceStepError, httpx.HTTPError) as exc:
        return Check("acestep: LM", False, f"could not check the LM: {exc}")
    detail = status.line()
    if status.available is False:
        detail += ("; --thinking (the default), --use-format, -d and --random need it: start the server with "
                   "ACESTEP_INIT_LLM=true, or make songs with --no-thinking")
    return Check("acestep: LM", status.available is not False, detail)


def _inventory(client: AceStepClient, info: ServerInfo) -> Check:
    """/v1/model_inventory of later releases: every DiT and LM model and which are loaded."""
    name = "acestep: inventory"
    if not info.newer_api:
        return Check(name, True, f"not offered: {OLD_SERVER}")
    try:
        inventory = client.model_inventory()
    except (AceStepError, httpx.HTTPError) as exc:
        return Check(name, False, f"/v1/model_inventory failed: {exc}")
    if inventory is None:
        return Check(name, True, "not offered (no /v1/model_inventory)")
    return Check(name, True, "DiT " + _listed(inventory.get("models")) + "; LM " + _listed(inventory.get("lm_models")))


def _listed(models: object) -> str:
    """'a (loaded, default), b' from inventory entries."""
    names = []
    for model in models if isinstance(models, list) else []:
        if isinstance(model, dict) and model.get("name"):
            marks = [m for m, on in (("loaded", model.get("is_loaded")), ("default", model.get("is_default"))) if on]
            names.append(f"{model['name']}" + (f" ({', '.join(marks)})" if marks else ""))
    return ", ".join(names) or "none"
