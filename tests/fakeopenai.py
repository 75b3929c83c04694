"""A loopback OpenAI-compatible server for tests: real HTTP on 127.0.0.1, scriptable per request.

The real `openai` client talks to it through base_url. Each request takes the next scripted behaviour
(or the default): "ok" (a valid reply computed from the request), "429" (with Retry-After), "500",
"hang" (answer after the client gave up), "malformed" (a body that is not JSON), "garbage" (a judge
reply nobody can parse), "table_missing_row", "table_renamed", "fractional", "reject_format" (400 when
response_format is sent), or ("content", text). It also serves /v1/files and /v1/batches minimally.
For tests that must act while calls are provably in flight, `hold_after(n)` answers the next n chat
requests and holds every later one until `release()` (or the end of the test); `wait_held(m)` waits
until m requests are held. A "hang" also lasts until release (at most `hang` seconds).
Sockets get TCP_NODELAY: without it every keep-alive call waits ~40 ms on Nagle + delayed ACK.
"""

from __future__ import annotations

import email.parser
import hashlib
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

_CRITERIA = re.compile(r"criterion names: (\[.*?\])", re.S)
_RUBRIC = re.compile(r"criteria(?: are)?: (.+?At most \w+ sentences?)")
_TOPIC = re.compile(r"in the context of (.+?) that", re.S)


def criteria_of(body: dict) -> list[str]:
    """Return the criterion names a grading request asks for ([] for a generation request)."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    if schema.get("properties"):
        return list(schema["properties"])
    text = "\n".join(m.get("content") or "" for m in body.get("messages", []))
    m = _CRITERIA.search(text)
    if m:
        return json.loads(m.group(1))
    m = _RUBRIC.search(text)  # the reference's wording: "criteria: Correctly illustrates x, ..., At most n"
    if not m:
        return []
    out = []
    for item in m.group(1).split(", "):
        for prefix in ("Correctly illustrates ", "Contains "):
            if item.startswith(prefix):
                out.append("skill:" + item[len(prefix) :])
        if item.startswith("Pertains to"):
            out.append("topic")
        elif item == "Text makes sense":
            out.append("makes_sense")
        elif item.startswith("At most"):
            out.append("sentence_limit")
    return out


def _bit(*parts: str) -> int:
    return hashlib.sha256("|".join(parts).encode()).digest()[0] % 4 != 0  # 3 in 4 pass


def grade_json(body: dict) -> str:
    """Return a valid JSON grading reply: a deterministic 0/1 and a reason per requested criterion."""
    text = body["messages"][-1]["content"]
    if '"quotes"' not in text:
        return json.dumps(
            {c: {"pass": int(_bit(c, text)), "reason": f"checked {c}"} for c in criteria_of(body)}
        )
    # Our v2 prompt asks for quotes: a credited point quotes the text's first words, in capitals, every
    # fourth one a passage that is not in the text (so grounded and not_found are both exercised).
    answer = text.split("<<<\n", 1)[-1].split("\n>>>", 1)[0]
    first = " ".join(answer.split()[:3]).upper()
    out = {}
    for c in criteria_of(body):
        passed = int(_bit(c, text))
        quote = "words that are not there" if _bit("quote", c, text) == 0 else first
        out[c] = {"pass": passed, "reason": f"checked {c}", "quotes": [quote] if passed else []}
    return json.dumps(out)


def _label(criterion: str, topic: str) -> str:
    if criterion.startswith("skill:"):
        return f"Correctly illustrates {criterion[6:]}"
    return {
        "topic": f"Pertains to {topic}",
        "makes_sense": "Text makes sense",
        "sentence_limit": "At most two sentences",
    }[criterion]


def grade_table(
    body: dict, *, drop: int | None = None, rename: int | None = None, fraction: int | None = None
) -> str:
    """Return a reference-style rubric table, optionally with a row dropped, renamed or fractional."""
    crits = criteria_of(body)
    text = body["messages"][-1]["content"]
    m = _TOPIC.search(text)
    topic = m.group(1) if m else "the topic"
    rows = ["Here's the grading table:", "", "| Criteria | Points Earned |", "|---|---|"]
    total = 0.0
    for i, c in enumerate(crits):
        if i == drop:
            continue
        label = "Uses vivid imagery" if i == rename else _label(c, topic)
        value = 0.5 if i == fraction else int(_bit(c, text))
        total += value
        rows.append(f"| {label} | {value:g} |")
    rows.append(f"| Total Points Earned | {total:g} |")
    rows += ["", "Explanation: graded by the fake server."]
    return "\n".join(rows)


def generation_reply(body: dict) -> str:
    """Return a two-part student reply: 'Answer: ...' then 'Explanation: ...'."""
    first = body["messages"][0]["content"]
    m = _TOPIC.search(first)
    topic = m.group(1) if m else "the topic"
    turn = sum(1 for msg in body["messages"] if msg["role"] == "user")
    return f"Answer: A short text about {topic}, draft {turn}.\n\nExplanation: it shows the skills."


class FakeOpenAI:
    """The server's state and script; start() serves it on a free port in a background thread."""

    def __init__(self, latency: float = 0.0, retry_after: float = 0.05, hang: float = 3.0) -> None:
        self.latency = latency
        self.retry_after = retry_after
        self.hang = hang
        self.default: Any = "ok"
        self.script: deque[Any] = deque()
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: set[str] = set()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None
        self.inflight = 0
        self.last_auth = ""
        self.max_inflight = 0
        self.held = 0  # chat requests held so far (see hold_after)
        self._answer_budget: int | None = None  # None: answer every request
        self._released = threading.Event()
        self._held_changed = threading.Condition(self._lock)

    # -- control -----------------------------------------------------------------------------------
    def push(self, *behaviours: Any) -> None:
        """Script the next requests' behaviours, in order."""
        with self._lock:
            self.script.extend(behaviours)

    def hold_after(self, n: int) -> None:
        """Answer the next n chat requests, then hold every later one until release()."""
        with self._lock:
            self._answer_budget = n
            self._released.clear()

    def wait_held(self, n: int, timeout: float = 60.0) -> None:
        """Wait until n chat requests are held (a safety timeout fails the test rather than hang it)."""
        with self._held_changed:
            if not self._held_changed.wait_for(lambda: self.held >= n, timeout):
                raise AssertionError(f"{self.held} requests held, expected {n}")

    def release(self) -> None:
        """Let every held or hanging request go on (they are answered as usual)."""
        with self._lock:
            self._answer_budget = None
        self._released.set()

    def _must_hold(self) -> bool:
        with self._lock:
            if self._answer_budget is None:
                return False
            if self._answer_budget > 0:
                self._answer_budget -= 1
                return False
            self.held += 1
            self._held_changed.notify_all()
            return True

    def next_behaviour(self) -> Any:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    @property
    def base_url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def chat_calls(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(_Handler):
            server_state = fake

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    # -- responses ---------------------------------------------------------------------------------
    def completion(self, body: dict, content: str) -> dict:
        n = next(self._ids)
        prompt_tokens = sum(len(m.get("content") or "") for m in body.get("messages", [])) // 4
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(content) // 4,
                "total_tokens": prompt_tokens + len(content) // 4,
            },
        }

    def chat(self, body: dict, behaviour: Any) -> tuple[int, dict[str, str], bytes]:
        """Answer one chat completion request according to a behaviour."""
        grading = bool(criteria_of(body))
        if isinstance(behaviour, tuple) and behaviour[0] == "content":
            content = behaviour[1]
        elif behaviour == "429":
            return (
                429,
                {"Retry-After": f"{self.retry_after:g}"},
                _error("rate limited", "rate_limit_exceeded"),
            )
        elif behaviour == "401":
            # as some servers do: the error message quotes the key it was given
            return 401, {}, _error(f"Incorrect API key provided: {self.last_auth}", "invalid_api_key")
        elif behaviour == "500":
            return 500, {}, _error("the server had an error", "server_error")
        elif behaviour == "malformed":
            return 200, {}, b'{"id": "chatcmpl-x", "choices": [ {"message": '
        elif behaviour == "reject_format" and body.get("response_format"):
            return 400, {}, _error("response_format json_schema is not supported", "invalid_request_error")
        elif behaviour == "garbage":
            content = "I am sorry, I cannot grade this text."
        elif behaviour == "table_missing_row":
            content = grade_table(body, drop=0)
        elif behaviour == "table_renamed":
            content = grade_table(body, rename=0)
        elif behaviour == "fractional":
            content = grade_table(body, fraction=0)
        elif grading:
            content = grade_json(body)
        else:
            content = generation_reply(body)
        return 200, {}, json.dumps(self.completion(body, content)).encode()

    def run_batch(self, input_file_id: str) -> str:
        """Answer every line of a batch input file; return the output file's id (vLLM/OpenAI format)."""
        out = []
        for line in self.files[input_file_id].decode().splitlines():
            if not line.strip():
                continue
            req = json.loads(line)
            status, _, payload = self.chat(req["body"], self.next_behaviour())
            body = json.loads(payload) if status == 200 else None
            out.append(
                {
                    "id": f"batch_req_{next(self._ids)}",
                    "custom_id": req["custom_id"],
                    "response": {"status_code": status, "request_id": f"req_{next(self._ids)}", "body": body},
                    "error": None if status == 200 else {"code": str(status), "message": "failed"},
                }
            )
        file_id = f"file-out-{next(self._ids)}"
        self.files[file_id] = ("\n".join(json.dumps(o) for o in out) + "\n").encode()
        return file_id


def _error(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": code, "code": code}}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def get_request(self):
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: FakeOpenAI

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(
        self, status: int, headers: dict[str, str], payload: bytes, ctype: str = "application/json"
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:
        state = self.server_state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state.auth_headers.add(self.headers.get("Authorization") or "")
        state.last_auth = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if self.path.endswith("/chat/completions"):
            body = json.loads(raw)
            state.requests.append({"path": self.path, "body": body})
            behaviour = state.next_behaviour()
            with state._lock:
                state.inflight += 1
                state.max_inflight = max(state.max_inflight, state.inflight)
            try:
                if state._must_hold():
                    state._released.wait(60.0)  # bounded: a test that forgets release() still ends
                if behaviour == "hang":
                    state._released.wait(state.hang)
                elif state.latency:
                    time.sleep(state.latency)
                answer = state.chat(body, behaviour)
            finally:
                with state._lock:
                    state.inflight -= 1
            self._send(*answer)
        elif self.path.endswith("/files"):
            state.requests.append({"path": self.path, "body": None})
            msg = email.parser.BytesParser().parsebytes(
                b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + raw
            )
            content = b""
            for part in msg.get_payload():
                if part.get_param("name", header="content-disposition") == "file":
                    content = part.get_payload(decode=True)
            file_id = f"file-{next(state._ids)}"
            state.files[file_id] = content
            self._send(200, {}, json.dumps(_file(file_id, len(content))).encode())
        elif self.path.endswith("/batches"):
            body = json.loads(raw)
            state.requests.append({"path": self.path, "body": body})
            batch_id = f"batch_{next(state._ids)}"
            batch = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body["endpoint"],
                "input_file_id": body["input_file_id"],
                "completion_window": body["completion_window"],
                "status": "in_progress",
                "created_at": int(time.time()),
                "metadata": body.get("metadata"),
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
            }
            state.batches[batch_id] = batch
            self._send(200, {}, json.dumps(batch).encode())
        else:
            self._send(404, {}, _error("not found", "not_found"))

    def do_GET(self) -> None:
        state = self.server_state
        state.requests.append({"path": self.path, "body": None})
        m = re.search(r"/batches/([^/?]+)$", self.path)
        if m and m.group(1) in state.batches:
            batch = state.batches[m.group(1)]
            if batch["status"] == "in_progress" and batch.get("_polled"):
                batch["output_file_id"] = state.run_batch(batch["input_file_id"])
                batch["status"] = "completed"
            batch["_polled"] = True
            self._send(
                200, {}, json.dumps({k: v for k, v in batch.items() if not k.startswith("_")}).encode()
            )
            return
        m = re.search(r"/files/([^/]+)/content$", self.path)
        if m and m.group(1) in state.files:
            self._send(200, {}, state.files[m.group(1)], ctype="application/octet-stream")
            return
        self._send(404, {}, _error("not found", "not_found"))


def _file(file_id: str, size: int) -> dict:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": int(time.time()),
        "filename": "batch.jsonl",
        "purpose": "batch",
        "status": "processed",
    }


@pytest.fixture
def fake_openai():
    """Serve a FakeOpenAI on 127.0.0.1 for one test."""
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()


# -- a small project to judge --------------------------------------------------------------------
SKILLS = [
    {
        "name": "alliteration",
        "definition": "Repeating the first sound of nearby words.",
        "example": "Silly snakes slide.",
    },
    {"name": "irony", "definition": "Saying the opposite of what is meant.", "example": "What lovely rain."},
    {"name": "hyperbole", "definition": "Exaggerating for effect.", "example": "I waited forever."},
    {
        "name": "analogy (extended comparison)",
        "definition": "Explaining one thing by another.",
        "example": "A heart is a pump.",
    },
    {"name": "rhetorical question", "definition": "A question asked for effect.", "example": "Who cares?"},
]
TOPICS = ["Knitting", "Falconry", "Origami"]


def make_project(path, n_generations: int = 6, k: int = 2, student: str = "student-a"):
    """Create a project with a small invented catalog and n generations of k skills; return its path."""
    import random

    from gradeapp.db import open_project

    rng = random.Random(7)
    store = open_project(path)
    with store.atomic():
        store.upsert_skills(SKILLS)
        store.add_topics(TOPICS)
        sid, tid = store.skill_ids(), store.topic_ids()
        rows = []
        for i in range(n_generations):
            skills = rng.sample([s["name"] for s in SKILLS], k)
            topic = rng.choice(TOPICS)
            cid = store.combination_id([sid[s] for s in skills], tid[topic], seed=1)
            text = f"Text {i} about {topic.lower()}, short and plain."
            rows.append(
                (f"test-{i}", cid, student, 1, None, text, text, "test", None, "2026-01-01T00:00:00+00:00")
            )
        store.insert_generations(rows)
    store.close()
    return path
