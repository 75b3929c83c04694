"""A scripted usability run of the desk: real X server, real key presses, screenshots and a short table.

    python scripts/usability.py [--out exports/usability] [--items 20] [--docs]

Not part of the test suite (it takes a few minutes). For each screen size (1024 x 640, 1920 x 1080, and
3840 x 2160 with QT_SCALE_FACTOR=2) it starts Xvfb, opens the desk on a fresh demo project
(scripts/usability_desk.py reports what the event loop does), grades `--items` items with xdotool key
presses in a seeded pattern, opens every view and every tab, saves a screenshot of each (ImageMagick's
`import`), and measures keys per item and the time from a key reaching the application to its write
being saved (and, for Enter, to the next item painted). It writes usability.md (the table) and the
screenshots into --out; --docs also copies the desk after a submit and the Statistics Summary at
1920 x 1080 to docs/screenshot.png and docs/summary.png.

Needs: apt-get install -y xvfb xdotool x11-apps imagemagick.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = [("1024x640", 1024, 640, 1), ("1920x1080", 1920, 1080, 1), ("3840x2160", 3840, 2160, 2)]
VIEWS = [
    ("stats", "ctrl+shift+s"),
    ("adjudication", "ctrl+shift+a"),
    ("run", "ctrl+shift+r"),
    ("annotators", "ctrl+shift+q"),
    ("guidelines", "ctrl+shift+g"),
    ("cheatsheet", "F1"),
]
TIMEOUT = 120.0


class Desk:
    """The desk in a child process under one X display: its events in order, its stdin for commands."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "usability_desk.py"), str(project)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.events: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line))
        self.events.put({"event": "exit"})

    def wait(self, name: str, **match) -> dict:
        """Return the next event called name (with these fields), skipping others; fail after TIMEOUT."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            event = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            if event["event"] == "exit":
                raise RuntimeError(f"the desk exited while waiting for {name}")
            if event["event"] == name and all(event.get(k) == v for k, v in match.items()):
                return event

    def ask(self, line: str, answer: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.wait(answer)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def xdotool(env: dict[str, str], *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=True)


def press(env: dict[str, str], desk: Desk, key: str) -> dict:
    """Press one key with xdotool (a real X key event); return the desk's report of receiving it."""
    xdotool(env, "key", "--clearmodifiers", key)
    return desk.wait("key")


def screenshot(env: dict[str, str], desk: Desk, path: Path, *, window_only: bool = False) -> Path:
    """Save the X screen (or only the active window) once every window has painted."""
    box = desk.ask("settle", "settled")["box"]
    crop = ["-crop", "{2}x{3}+{0}+{1}".format(*box), "+repage"] if window_only else []
    subprocess.run(["import", "-window", "root", *crop, str(path)], env=env, check=True)
    return path


def start_display(number: int, width: int, height: int) -> subprocess.Popen:
    """Start Xvfb on :number and return it once its socket is there."""
    proc = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 30
    while not socket.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Xvfb :{number} did not start")
        time.sleep(0.05)
    return proc


def grade_items(env, desk: Desk, n_items: int, seed: int, shots: Path) -> dict:
    """Grade n items by key presses in a seeded pattern; return keys per item and latencies (ms)."""
    rng = random.Random(seed)
    keys_per_item, to_saved, to_painted = [], [], []
    for number in range(n_items):
        where = desk.ask("where", "where")
        k = where["k"]
        against = rng.sample([*(str(i) for i in range(1, k + 1)), "t", "m", "l"], rng.choice([0, 0, 1, 2, 3]))
        keys = [*against, "a", "Return"]
        for key in keys:
            sent = press(env, desk, key)
            saved = desk.wait("saved")
            to_saved.append(1000 * (saved["t"] - sent["t"]))
            if key == "Return":
                painted = desk.wait("painted")
                to_painted.append(1000 * (painted["t"] - sent["t"]))
        keys_per_item.append(len(keys))
        if number == 0:
            screenshot(env, desk, shots / "desk-after-submit.png")
    return {"keys": keys_per_item, "saved": to_saved, "painted": to_painted}


def open_views(env, desk: Desk, shots: Path, window: str) -> list[Path]:
    """Open every view by its key and screenshot it (every tab of the Statistics window); close it again."""
    taken = []
    for name, key in VIEWS:
        xdotool(
            env, "windowfocus", "--sync", window
        )  # no window manager gives the focus back: the script does
        press(env, desk, key)
        desk.wait("window")
        if name == "stats":
            desk.wait("stats_ready")
            xdotool(env, "windowfocus", "--sync", window)
            press(env, desk, key)  # a second open raises the first: still one Statistics window
            count = desk.ask("tab 0", "tab")["count"]
            assert desk.ask("where", "where")["windows"] == 2, "a second Statistics window opened"
            for index in range(count):
                title = desk.ask(f"tab {index}", "tab")["title"]
                taken.append(
                    screenshot(
                        env,
                        desk,
                        shots / f"stats-{index}-{title.lower().replace(' ', '-')}.png",
                        window_only=True,
                    )
                )
            stats = subprocess.run(
                ["xdotool", "search", "--name", "^Statistics"], env=env, capture_output=True, text=True
            ).stdout.split()[0]
            xdotool(env, "windowfocus", "--sync", stats)
            press(env, desk, "Escape")  # Esc closes the Statistics window
            desk.wait("window_closed")
        else:
            taken.append(screenshot(env, desk, shots / f"view-{name}.png", window_only=True))
            desk.ask("close", "window_closed")
    return taken


def audit_mode(env, desk: Desk, shots: Path) -> list[Path]:
    """Turn audit mode on, screenshot it, and off again: the desk must be back on the same item."""
    before = desk.ask("where", "where")["uid"]
    desk.ask("audit on", "audit_ready")
    taken = [screenshot(env, desk, shots / "desk-audit-mode.png")]
    on_screen = desk.ask("where", "where")["uid"]
    after = desk.ask("audit off", "where")["uid"]
    # off again on the item audit mode showed (or, when its queue was empty, the one before it)
    assert after == (on_screen or before), f"leaving audit mode moved from {on_screen or before} to {after}"
    taken.append(screenshot(env, desk, shots / "desk-audit-mode-off.png"))
    return taken


def run_size(label: str, width: int, height: int, scale: int, args, display: int) -> dict:
    """Run the whole script at one screen size; return its figures."""
    from gradeapp.services.demo import build_demo

    shots = args.out / label
    shots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"usability-{label}-"))
    project = work / "demo.gradeapp"
    build_demo(project)
    data = work / "data"
    data.mkdir()
    (data / "desk.ini").write_text("[General]\nannotator=usability run\nblind=true\n")
    env = {**os.environ, "DISPLAY": f":{display}", "GRADEAPP_DATA_DIR": str(data), "QT_QPA_PLATFORM": "xcb"}
    env.pop("GRADEAPP_PROJECT", None)
    if scale != 1:
        env["QT_SCALE_FACTOR"] = str(scale)
    xvfb = start_display(display, width, height)
    desk = Desk(project, env)
    try:
        ready = desk.wait("ready")
        window = subprocess.run(
            ["xdotool", "search", "--sync", "--name", "gradeapp desk"],
            env=env,
            capture_output=True,
            text=True,
        ).stdout.split()[0]
        xdotool(env, "windowmove", window, "0", "0")
        xdotool(env, "windowsize", window, str(width), str(height))
        xdotool(env, "windowfocus", "--sync", window)
        screenshot(env, desk, shots / "desk-start.png")
        figures = grade_items(env, desk, args.items, args.seed, shots)
        shots_taken = len(list(shots.glob("*.png")))
        open_views(env, desk, shots, window)
        xdotool(env, "windowfocus", "--sync", window)
        audit_mode(env, desk, shots)
        figures.update(
            label=label, first=ready["uid"], screenshots=len(list(shots.glob("*.png"))) or shots_taken
        )
        return figures
    finally:
        desk.close()
        xvfb.terminate()
        xvfb.wait(30)
        shutil.rmtree(work, ignore_errors=True)


def table(results: list[dict], items: int) -> str:
    """Return the figures as a Markdown table."""

    def ms(values, q):
        values = sorted(values)
        return f"{values[min(len(values) - 1, round(q * (len(values) - 1)))]:.1f}" if values else "–"

    lines = [
        "| screen | items | keys per item (mean / max) | key → saved, median / p95 (ms) | Enter → next item painted, median / p95 (ms) | screenshots |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['label']} | {len(r['keys'])} of {items} | {statistics.mean(r['keys']):.2f} / {max(r['keys'])} | "
            f"{ms(r['saved'], 0.5)} / {ms(r['saved'], 0.95)} | {ms(r['painted'], 0.5)} / {ms(r['painted'], 0.95)} | "
            f"{r['screenshots']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "exports" / "usability")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--docs", action="store_true", help="copy the desk and Summary screenshots into docs/"
    )
    args = parser.parse_args()
    missing = [tool for tool in ("Xvfb", "xdotool", "import") if shutil.which(tool) is None]
    if missing:
        print(f"missing {', '.join(missing)}: apt-get install -y xvfb xdotool x11-apps imagemagick")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    results = [run_size(*size, args, display=90 + n) for n, size in enumerate(SIZES)]
    text = table(results, args.items)
    (args.out / "usability.md").write_text(
        f"Usability run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"seed {args.seed}): real X key presses under Xvfb.\n\n{text}\n"
    )
    print(text)
    if args.docs:
        shutil.copy(args.out / "1920x1080" / "desk-after-submit.png", ROOT / "docs" / "screenshot.png")
        shutil.copy(args.out / "1920x1080" / "stats-0-summary.png", ROOT / "docs" / "summary.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
