"""LoRA adapters on an ACE-Step server (`--lora NAME[:SCALE]`, later releases only).

Upstream's adapter is server-wide state, not a request field (acestep/api/http/lora_routes.py):
`POST /v1/lora/load {lora_path}` loads it into the DiT, `/v1/lora/scale {scale}` sets its
strength (0-1), `/v1/lora/toggle {use_lora}` switches it on or off, `/v1/lora/status` tells.
Every job started while it is on uses it. So mvflow loads, scales and switches the adapter on
right before submitting a song that asks for one (mvflow's per-server concurrency limit keeps
its own songs from overlapping), and warns when a song that asked for none is about to be made
while the server has an adapter on (someone else's, or one mvflow loaded for an earlier song).
A server without the routes (f30aee4) answers 404: `--lora` is then refused in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvflow.errors import AceStepUnsupported

if TYPE_CHECKING:
    from mvflow.song.acestep.client import AceStepClient
    from mvflow.song.acestep.options import AceStepOptions


def apply_lora(client: AceStepClient, options: AceStepOptions) -> list[str]:
    """Load and switch on the adapter the options ask for; warnings for a song made under someone's adapter."""
    status = client.lora("status")
    if status is None:
        if options.lora:
            raise AceStepUnsupported(f"--lora needs an ACE-Step server with LoRA routes (a later 1.5 release): "
                                     f"{client.base_url} has no /v1/lora/status")
        return []
    if not options.lora:
        if status.get("lora_loaded") and status.get("use_lora"):
            name = status.get("active_adapter") or "an adapter"
            return [f"ACE-Step has LoRA {name} switched on for every job (it is server-wide), so this song was "
                    "made with it too; switch it off with POST /v1/lora/toggle {\"use_lora\": false}"]
        return []
    client.lora("load", {"lora_path": options.lora})
    if options.lora_scale is not None:
        client.lora("scale", {"scale": options.lora_scale})
    client.lora("toggle", {"use_lora": True})
    return []
