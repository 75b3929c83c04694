"""Talking to OpenAI-compatible models: the client and worker pool, generation, the judge, batches, job records."""
