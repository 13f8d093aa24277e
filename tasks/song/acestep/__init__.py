"""The `acestep` song engine: mvflow's client of an ACE-Step 1.5 server (`--engine acestep`).

`client` speaks the REST API (shared/acestep-api.md: /release_task + /query_result polling,
/v1/audio downloads, /v1/chat/completions), `payload` builds request bodies and reads answers
(pure functions), `options` validates the engine options a request carries, `engine` runs a
generation (submit, poll, download, record what the server actually made) and `doctor` checks
a server for `mvflow doctor`. Product code: this is how videos are made on a GPU server.
"""
