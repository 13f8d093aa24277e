"""Routes of later ACE-Step 1.5 releases, served only with `upstream="latest"`: model inventory and LoRA.

As the refactored upstream server answers them (acestep/api/http/model_service_routes.py and
acestep/api/http/lora_routes.py), all behind the Authorization header:

* `GET /v1/model_inventory`: DiT models (name, is_default, is_loaded, supported_task_types), LM
  models, `loaded_lm_model`, `llm_initialized` and GPU information, in the envelope;
* `POST /v1/lora/load {lora_path, adapter_name?}`: 400 with the handler's message when it fails
  (here: the path does not exist on the server); `/unload`; `/toggle {use_lora}` and
  `/scale {scale 0..1}` answer in-band code 400 when they fail; `GET /v1/lora/status`.

The adapter is server-wide state, as upstream's is: every job started while it is active uses
it. The built-in engine has no weights for an adapter to change, so an adapter here changes no
audio: it is checked to exist, and the jobs it was active for name it (and its scale) in their
`generation_info`, which is what a client can check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from mvflow.song.devserver.plan import LM_MODEL, PRIMARY_MODEL

OK = "\u2705"  # upstream's handler messages start with this on success
WARN = "\u26a0\ufe0f"
TASK_TYPES_TURBO = ["text2music", "repaint", "cover"]


class LoadLoRA(BaseModel):
    lora_path: str = Field(..., description="Path to a LoRA adapter directory or file on the server")
    adapter_name: str | None = None


class ScaleLoRA(BaseModel):
    scale: float = Field(..., ge=0.0, le=1.0)
    adapter_name: str | None = None


class ToggleLoRA(BaseModel):
    use_lora: bool


class LoraState:
    """The server's one LoRA slot: which adapter is loaded, whether it is used, at what scale."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.path: str | None = None
        self.use = False
        self.scale = 1.0

    def active(self) -> str | None:
        """'path (scale 0.7)' while an adapter is loaded and in use, else None: what a job records."""
        with self._lock:
            return f"{self.path} (scale {self.scale:g})" if self.path and self.use else None

    def status(self) -> dict[str, Any]:
        with self._lock:
            name = Path(self.path).stem if self.path else None
            return {"model_initialized": True, "lora_loaded": self.path is not None, "use_lora": self.use,
                    "lora_scale": self.scale, "adapter_type": "lora" if self.path else None,
                    "scales": {name: self.scale} if name else {}, "active_adapter": name,
                    "adapters": [name] if name else [], "synthetic_default_mode": False}

    def load(self, path: str) -> str:
        if not Path(path).expanduser().exists():
            raise HTTPException(400, f"\u274c LoRA path not found: {path}")
        with self._lock:
            self.path, self.use, self.scale = path, True, 1.0
        return f"{OK} LoRA loaded from {path}"

    def set(self, use: bool | None = None, scale: float | None = None) -> bool:
        """Switch the loaded adapter on/off or change its scale; False when no adapter is loaded."""
        with self._lock:
            if self.path is None:
                return False
            self.use = self.use if use is None else use
            self.scale = self.scale if scale is None else scale
            return True

    def unload(self) -> str:
        with self._lock:
            had, self.path, self.use = self.path, None, False
        return f"{OK} LoRA unloaded, base model restored" if had else f"{WARN} No LoRA adapter loaded"


def register_newer_routes(app: FastAPI, envelope: Callable[..., dict], check_header: Callable[[Request], None],
                          lora: LoraState, lm_loaded: bool) -> None:
    """Add the later releases' routes to the app."""

    @app.get("/v1/model_inventory")
    async def model_inventory(request: Request) -> dict:
        check_header(request)
        return envelope(inventory(lm_loaded))

    @app.post("/v1/lora/load")
    async def lora_load(body: LoadLoRA, request: Request) -> dict:
        check_header(request)
        data = {"message": lora.load(body.lora_path), "lora_path": body.lora_path}
        return envelope({**data, "adapter_name": body.adapter_name} if body.adapter_name else data)

    @app.post("/v1/lora/unload")
    async def lora_unload(request: Request) -> dict:
        check_header(request)
        return envelope({"message": lora.unload()})

    @app.post("/v1/lora/toggle")
    async def lora_toggle(body: ToggleLoRA, request: Request) -> dict:
        check_header(request)
        if not lora.set(use=body.use_lora):
            return envelope(None, 400, "\u274c No LoRA adapter loaded")
        return envelope({"message": f"{OK} LoRA {'enabled' if body.use_lora else 'disabled'}",
                         "use_lora": body.use_lora})

    @app.post("/v1/lora/scale")
    async def lora_scale(body: ScaleLoRA, request: Request) -> dict:
        check_header(request)
        if not lora.set(scale=body.scale):
            return envelope(None, 400, "\u274c No LoRA adapter loaded")
        return envelope({"message": f"{OK} LoRA scale set to {body.scale:g}", "scale": body.scale})

    @app.get("/v1/lora/status")
    async def lora_status(request: Request) -> dict:
        check_header(request)
        return envelope(lora.status())


def inventory(lm_loaded: bool) -> dict[str, Any]:
    """The inventory payload: the one DiT model and the LM, as the refactored server lists them."""
    return {"models": [{"name": PRIMARY_MODEL, "is_default": True, "is_loaded": True,
                        "supported_task_types": TASK_TYPES_TURBO}],
            "default_model": PRIMARY_MODEL,
            "lm_models": [{"name": LM_MODEL, "is_loaded": lm_loaded}],
            "loaded_lm_model": LM_MODEL if lm_loaded else None, "llm_initialized": lm_loaded,
            "gpus": [], "gpu_mapping": {}, "device_map": {}}
