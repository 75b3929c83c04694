"""GRADEAPP_PROJECT names a project the way --project does: a missing file is refused, never built."""

import os
import subprocess
import sys

import pytest


def run(*args, env):
    """Run the real CLI in a child process with this environment."""
    return subprocess.run(
        [sys.executable, "-m", "gradeapp", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("command", [("info",), ("desk",)])
def test_missing_project_is_refused_alike_from_the_flag_and_the_environment(tmp_path, command):
    missing = tmp_path / "typo.gradeapp"
    base = {"GRADEAPP_DATA_DIR": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen"}
    by_flag = run(*command, "--project", str(missing), env=base)
    by_env = run(*command, env={**base, "GRADEAPP_PROJECT": str(missing)})
    for result in (by_flag, by_env):
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert by_env.stderr == by_flag.stderr
    assert "typo.gradeapp: no such project file" in by_env.stderr
    assert not missing.exists()
    assert not (tmp_path / "data" / "default.gradeapp").exists()


def test_environment_project_that_exists_is_opened(demo_path, tmp_path):
    result = run(
        "info", env={"GRADEAPP_DATA_DIR": str(tmp_path / "data"), "GRADEAPP_PROJECT": str(demo_path)}
    )
    assert result.returncode == 0, result.stderr
    assert str(demo_path) in result.stdout
