"""Shared fixtures; each engineer's fixtures live in their own module and are imported here."""

from fakeopenai import fake_openai  # noqa: F401
