"""The pipeline stages, each one async function an activity calls: discover, fetch, chunk, embed, commit,
plus the run/source lifecycle (open/close run, begin/checkpoint/finish source)."""
