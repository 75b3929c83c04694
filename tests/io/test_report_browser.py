"""report.html in a real browser: headless Chromium renders its first screen (skipped without Chromium)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest

from gradeapp.core.results import StatsOptions
from gradeapp.db import open_project
from gradeapp.io.report import write_report
from gradeapp.services.demo import build_demo
from gradeapp.services.stats import compute_stats

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
)


def chromium_args(profile: str) -> list[str]:
    """Return the flags of a headless, offline, sandbox-free Chromium run with its own profile."""
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}",
    ]  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_the_demo_report_renders_its_answer_on_the_first_screen_in_chromium(tmp_path):
    project = build_demo(tmp_path / "demo.gradeapp")
    with open_project(project) as store:
        stats = compute_stats(store, StatsOptions(bootstrap=100))
    report = write_report(stats, tmp_path / "report.html")
    with tempfile.TemporaryDirectory() as profile:
        # the DOM after layout, and a screenshot of the first screen (1280 x 900)
        dom = subprocess.run(
            [CHROMIUM, *chromium_args(profile), "--dump-dom", report.as_uri()],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout  # fmt: skip
        shot = tmp_path / "first.png"
        subprocess.run(
            [CHROMIUM, *chromium_args(profile), f"--screenshot={shot}", "--window-size=1280,900", report.as_uri()],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
    assert "What is each model's true pass rate?" in dom and "Can the judge be trusted?" in dom
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1280, 900)
        # the first screen is not blank: the headline table and the forest plot put ink on both halves
        gray = img.convert("L")
        left = gray.crop((0, 150, 640, 700)).getextrema()
        right = gray.crop((760, 150, 1260, 700)).getextrema()
        assert left[0] < 80 and right[0] < 80
    pdf = tmp_path / "report.pdf"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [CHROMIUM, *chromium_args(profile), f"--print-to-pdf={pdf}", "--no-pdf-header-footer", report.as_uri()],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 50_000
