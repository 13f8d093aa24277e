"""The built-in offline song engine `local` (`--engine local`, the default).

A procedural arrangement (structure -> bars -> drums, bass, chords) with an espeak-ng voice
singing the lyrics in key and on the beat; no network, no GPU. `engine.generate_local_song`
is the entry point; the other modules are its parts (arrange, harmony, melody, phrasing,
backing, voice, psola, vocals, mixdown, params, espeak). The development server
(mvflow.song.devserver) uses it to stand in for ACE-Step's model.
"""
