"""Run folders on disk: config.json and metrics.jsonl (folder), sealed atomic checkpoints, the folder lock and the
PNG writers. Knows nothing of models or training."""
