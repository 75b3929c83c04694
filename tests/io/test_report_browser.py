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


HEADINGS = (
    "The other metrics", "Agreement per criterion, worst first", "k-curves: the judge alone and calibrated",
    "Emergence: largest k against model size", "Novelty bound per k", "Full tables", "Agreement (overall)",
    "Bias per criterion", "Confusion matrices", "Kappa, AC1 and PABAK", "People with people (the ceiling)",
    "The judge with itself (across runs)", "Audit planner", "What was excluded and why",
)  # fmt: skip


def _pdf_pages(report, tmp_path, page_size: str | None) -> list[tuple[str, bool]]:
    """Print the report with Chromium (page_size injected as a reader's printer would set it); return each
    page's text and whether it holds an image (a figure's heading is its last text)."""
    html_path = report
    if page_size:  # what a reader whose printer is set to this paper gets
        html_path = tmp_path / f"report-{page_size}.html"
        html_path.write_text(
            report.read_text(encoding="utf-8").replace("</style>", f"@page{{size:{page_size}}}</style>"),
            encoding="utf-8",
        )
    pdf = tmp_path / f"report-{page_size or 'default'}.pdf"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [CHROMIUM, *chromium_args(profile), f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html_path.as_uri()],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True)
    with_image = {int(line.split()[0]) for line in images.stdout.splitlines()[2:] if line.strip()}
    return [(page, number in with_image) for number, page in enumerate(text.stdout.split("\f"), start=1)]


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None or shutil.which("pdftotext") is None,
    reason="needs Chromium and pdftotext (Debian: apt-get install chromium poppler-utils)",
)
def test_the_report_prints_on_letter_and_a4_with_whole_headers_and_no_heading_alone(tmp_path):
    project = build_demo(tmp_path / "demo.gradeapp")
    with open_project(project) as store:
        stats = compute_stats(store, StatsOptions(bootstrap=50))
    report = write_report(stats, tmp_path / "report.html")
    assert "size:" not in report.read_text(encoding="utf-8").split("@page", 1)[1].split("}", 1)[0]
    for paper in ("letter", "A4"):
        pages = _pdf_pages(report, tmp_path, paper)
        text = "\n".join(page for page, _ in pages)
        # a header breaks after an underscore or not at all: never "sens itivit y"
        words = set(text.split())
        assert {"sensitivity", "specificity", "missing"} <= words and not {"sens", "itivit", "ssing"} & words
        for number, (page, has_image) in enumerate(pages[:-1], start=1):
            lines = [line.strip() for line in page.splitlines() if line.strip()]
            alone = lines[-1] in HEADINGS and not has_image
            assert lines and not alone, f"{paper} page {number} ends with a heading: {lines[-1]}"
