"""What a failed ACE-Step job (status 2) is told as: one line, naming the LM only when the LM is the cause.

Servers differ in what they say about a failure (contract §5.3): later releases put the job's
error in the entry; an install without diskcache gives the whole traceback; the default install
at f30aee4 gives nothing at all. So the reason is the server's own words when it has any; when it
has none and the request needed the LM, the LM is checked (server_info.lm_status) before it is
blamed; otherwise the line says the server gave no reason and where to find one.

A status 2 whose result still shows the job running is not a failure of the job: upstream reports
a task that stayed at status 0 for an hour as failed (the one-hour rule, a server that restarted
while the job ran). That is a lost task, resubmitted once like a forgotten one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx

from mvflow.errors import AceStepError, AceStepJobFailed, AceStepLmUnavailable, AceStepLostTask
from mvflow.song.acestep.server_info import is_lm_missing, lm_status

if TYPE_CHECKING:
    from mvflow.song.acestep.client import AceStepClient, TaskState

log = logging.getLogger("mvflow.acestep")

#: Request fields that need the server's LM (upstream's `require_llm`), as the user names them.
LM_FIELDS = {"thinking": "--thinking", "use_format": "--use-format", "sample_query": "-d/--description",
             "sample_mode": "--random"}
LM_FIX = "start the server with ACESTEP_INIT_LLM=true, or use --no-thinking without --use-format, -d or --random"


def lm_options(payload: dict) -> list[str]:
    """The options of a submitted payload that need the LM."""
    return [flag for name, flag in LM_FIELDS.items() if payload.get(name)]


def failure_error(task_id: str, state: TaskState, payload: dict, client: AceStepClient) -> AceStepError:
    """The error a status-2 answer is: lost (the one-hour rule), the LM missing, or the job's own failure."""
    if state.entries and all(entry.get("status") == 0 for entry in state.entries):
        return AceStepLostTask(f"ACE-Step gave up on task {task_id} after an hour at stage {state.stage!r} "
                               "(the server restarted while it ran?)")
    if state.error:
        reason = state.error.strip().splitlines()[-1]
        if is_lm_missing(state.error):
            return AceStepLmUnavailable(f"ACE-Step task {task_id} failed: the server's LM is not loaded and "
                                        f"{', '.join(lm_options(payload)) or 'this request'} need it: {LM_FIX}")
        return AceStepJobFailed(f"ACE-Step task {task_id} failed: {reason}")
    needs = lm_options(payload)
    if needs and _lm_missing(client):
        return AceStepLmUnavailable(f"ACE-Step task {task_id} failed, and the server's LM is not loaded: "
                                    f"{', '.join(needs)} need it; {LM_FIX}")
    return AceStepJobFailed(f"ACE-Step task {task_id} failed; the server gave no reason (servers installed with "
                            "diskcache never do): its log has the traceback")


def _lm_missing(client: AceStepClient) -> bool:
    """True only when the server is seen to have no LM; a check that cannot tell blames nothing."""
    try:
        return lm_status(client).available is False
    except (AceStepError, httpx.HTTPError) as exc:
        log.debug("could not check the ACE-Step LM: %s", exc)
        return False
