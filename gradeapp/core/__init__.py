"""Pure functions of the domain: rubric, metrics, parsing, sampling, prompts, agreement, calibration (no storage)."""
