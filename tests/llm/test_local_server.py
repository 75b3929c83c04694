"""The local model's plumbing that needs no model: finding a served model, the schema's form, truncation."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gradeapp.cli import main
from gradeapp.core.prompts import grading_schema
from gradeapp.core.rubric import criteria
from gradeapp.db.judge_store import is_parsed
from gradeapp.errors import GradeappError
from gradeapp.llm.client import as_schema_format
from gradeapp.llm.judge import judgement_from_reply
from gradeapp.llm.local_server import LocalModel, find_model, note_path, running_server

MODEL = LocalModel(path=Path("/nowhere/m.gguf"), name="m", sha256="ab" * 32)


def write_note(**fields) -> None:
    note = {"base_url": "http://127.0.0.1:9/v1", "pid": os.getpid(), "sha256": MODEL.sha256, **fields}
    note_path().parent.mkdir(parents=True, exist_ok=True)
    note_path().write_text(json.dumps(note))


def test_a_served_model_is_found_by_live_process_and_open_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        write_note(base_url=url)
        assert running_server(MODEL) == url
        write_note(base_url=url, sha256="cd" * 32)  # another model file
        assert running_server(MODEL) is None
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
        write_note(base_url=url, pid=int(dead.stdout))  # its server is gone
        assert running_server(MODEL) is None
    write_note(base_url=url)  # nothing listens any more
    assert running_server(MODEL) is None


def test_a_missing_model_file_is_one_actionable_line(tmp_path):
    with pytest.raises(GradeappError, match="no such model file"):
        find_model(tmp_path / "absent.gguf")


def test_json_schema_goes_as_json_object_to_llama_cpp():
    fmt = grading_schema(criteria(["irony"]))
    local = as_schema_format(fmt, "json_object")
    assert local == {"type": "json_object", "schema": fmt["json_schema"]["schema"]}
    assert as_schema_format(fmt, "json_schema") is fmt


def test_a_reply_cut_at_max_tokens_never_counts_as_parsed():
    ctx = {"id": 1, "skills": [{"name": "irony"}], "topic": "Knitting", "text": "Oh, lovely rain."}
    whole = json.dumps({c: {"pass": 1, "reason": "r"} for c in criteria(["irony"])})
    assert judgement_from_reply(1, ctx, 1, whole).parse_status == "ok"
    cut = judgement_from_reply(1, ctx, 1, whole, finish_reason="length")
    assert cut.parse_status == "truncated,ok" and not is_parsed(cut.parse_status)


def test_local_refuses_a_model_or_url_of_its_own(tmp_path, capsys):
    code = main(["judge", "--project", str(tmp_path / "p.gradeapp"), "--local", "--model", "gpt-4o"])
    assert code == 2
    assert "--local serves its own model" in capsys.readouterr().err
