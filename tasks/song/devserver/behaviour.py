"""Which real ACE-Step server `mvflow engine serve` imitates: its upstream version, install and switches.

The development server exists so that mvflow's client is tested against what real servers
do, defects included. Upstream ACE-Step 1.5 comes in two API generations that a client meets
in the wild, and one install difference that changes every answer:

* `upstream="f30aee4"` (the default): `acestep/api_server.py` at upstream commit f30aee4
  (2026-02-08), the server documented in shared/acestep-api.md. Multipart and urlencoded
  `/release_task` answer 500 (a `TypeError` building the request; the uploaded temp files
  leak), `seed` is ignored (random seeds, and the reported `seed_value` is not even the seed
  used), `/health` says only status/service/version, no `/v1/model_inventory` or LoRA routes,
  `audio_format` is mp3/wav/flac (anything else is saved as FLAC), `repaint_mode` does not
  exist, a body `ai_token` authenticates.
* `upstream="latest"`: the refactored `acestep/api/...` server of later releases: uploads
  work, seeds are honoured, failed jobs carry their error text, `/health` reports the LM,
  `/v1/model_inventory`, `/v1/lora/*` and `/v1/create_sample` (the LM writes caption, lyrics and
  metas from a description) exist, `audio_format` adds opus/aac/wav32, repaint has modes, and only
  the Authorization header authenticates.
* `result_store="diskcache"` (the default: what `pip install` of upstream's pyproject gives):
  results and progress live in a disk cache that survives restarts (a job running when the
  server stopped keeps answering status 0 with its last stage for an hour), and a failed job's
  entry carries no error text at f30aee4. `"memory"` (an install from requirements.txt, which
  lacks diskcache): a smaller success shape (`prompt` = metas.caption, `lyrics` = the original
  input, no seed_value/lm_model/dit_model), the error as the whole traceback, and a restart
  forgets every job.
* `lm`: whether the 5Hz LM is loaded (upstream loads it at start-up on GPUs over 12 GB or with
  ACESTEP_INIT_LLM=true). Without it `thinking`, `use_format`, description, sample mode and
  analysis-only jobs fail (status 2) and the LM routes (`/format_input`, `/v1/create_sample`)
  answer 503; the development server's LM is a rule-based stand-in (devserver.lm).
* `uploads` and `seeds` override what the upstream version does, one defect at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Upstream = Literal["f30aee4", "latest"]
ResultStore = Literal["diskcache", "memory"]

#: Output formats a server saves, by API generation; anything else becomes FLAC.
FORMATS: dict[str, tuple[str, ...]] = {"f30aee4": ("mp3", "wav", "flac"),
                                       "latest": ("mp3", "wav", "flac", "opus", "aac", "wav32")}
#: What upstream's job raises when a job needs the LM and none was loaded (f30aee4 api_server.py:1260).
LM_MISSING = ("5Hz LM init failed: LLM not initialized at startup. To enable LLM, set ACESTEP_INIT_LLM=true "
              "in .env or environment variables. For this request, optional LLM features (use_cot_caption, "
              "use_cot_language) will be auto-disabled.")
#: /format_input without the LM (f30aee4 api_server.py:2558).
LM_MISSING_FORMAT = "LLM not initialized. Set ACESTEP_INIT_LLM=true in .env to enable."


@dataclass(frozen=True)
class Behaviour:
    """How the development server behaves: an upstream version, an install, and single-defect switches."""

    upstream: Upstream = "f30aee4"
    result_store: ResultStore = "diskcache"
    lm: bool = True
    uploads: Literal["working", "broken"] | None = None  # None: as `upstream` does
    seeds: Literal["honoured", "ignored"] | None = None  # None: as `upstream` does

    @property
    def newer_api(self) -> bool:
        """The refactored API: LoRA and inventory routes, LM fields in /health, error text, more formats."""
        return self.upstream == "latest"

    @property
    def uploads_work(self) -> bool:
        return self.uploads == "working" if self.uploads else self.newer_api

    @property
    def honours_seeds(self) -> bool:
        return self.seeds == "honoured" if self.seeds else self.newer_api

    @property
    def diskcache(self) -> bool:
        return self.result_store == "diskcache"

    @property
    def formats(self) -> tuple[str, ...]:
        return FORMATS[self.upstream]

    @property
    def body_token_authenticates(self) -> bool:
        """f30aee4 reads `ai_token` from bodies first; the refactored server only the header."""
        return not self.newer_api

    def summary(self) -> str:
        """One line for the start-up banner."""
        parts = [f"upstream {self.upstream}", f"results {self.result_store}", f"LM {'on' if self.lm else 'off'}",
                 f"uploads {'working' if self.uploads_work else 'broken (500)'}",
                 f"seeds {'honoured' if self.honours_seeds else 'ignored'}"]
        return ", ".join(parts)
