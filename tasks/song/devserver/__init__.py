"""A development tool, not a product code path: `mvflow engine serve`, an ACE-Step-compatible server.

It answers the ACE-Step 1.5 REST API with the built-in engine behind it, so mvflow's own
`--engine acestep` client (and anyone's integration) can be built and tested without a GPU,
and it misbehaves on purpose when asked (fault switches: 500s, 429s, failed or forgotten
jobs, slow or dropped connections). The test suite runs against it; a user runs it to try the
ACE-Step path offline. Videos made for real go through mvflow.song.acestep to a real server.

Modules: `server` (HTTP routes), `jobs` (job store, queue, worker, faults), `params` (how the
server reads /release_task parameters), `chat` (/v1/chat/completions), `lm` (a rule-based
stand-in for ACE-Step's LM), `audio` (formats, cover/repaint stand-ins).
"""
