from gradeapp.core.parsing import extract_answer, parse_judge_reply

SKILLS = ["metaphor", "red herring", "complex question (loaded question with implicit assumption )"]
TOPIC = "Kite flying"


def table(rows: list[tuple[str, str]], total: str = "6") -> str:
    lines = ["Here's the grading table:", "", "| Criteria | Points Earned |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    lines.append(f"| Total Points Earned | {total} |")
    return "\n".join(lines) + "\n\nExplanation: fine."


FULL = [
    ("Correctly illustrates metaphor", "1"),
    ("Correctly illustrates red herring", "0"),
    ("Correctly illustrates complex question (loaded question with implicit assumption )", "1"),
    ("Pertains to Kite flying", "1"),
    ("Text makes sense", "1"),
    ("At most two sentences", "0"),
]


def values(parsed):
    return {c: (p.value, p.status) for c, p in parsed.points.items()}


def test_full_table_is_read_by_name():
    parsed = parse_judge_reply(table(FULL, total="4"), SKILLS, TOPIC)
    assert parsed.status == "ok" and parsed.fmt == "table"
    assert values(parsed) == {
        "skill:metaphor": (1, "ok"),
        "skill:red herring": (0, "ok"),
        "skill:complex question (loaded question with implicit assumption )": (1, "ok"),
        "topic": (1, "ok"),
        "makes_sense": (1, "ok"),
        "sentence_limit": (0, "ok"),
    }


def test_missing_row_is_recorded_missing_and_never_shifts_later_points():
    rows = [r for r in FULL if "red herring" not in r[0]]
    parsed = parse_judge_reply(table(rows, total="4"), SKILLS, TOPIC)
    assert parsed.points["skill:red herring"].status == "missing"
    assert parsed.points["skill:red herring"].value is None
    # the points after the gap keep their own values (a positional parser would shift them)
    assert parsed.points["skill:complex question (loaded question with implicit assumption )"].value == 1
    assert parsed.points["sentence_limit"].value == 0
    assert parsed.status.startswith("partial")


def test_shortened_or_reordered_criterion_names_still_match():
    rows = [
        ("Pertains to Kite flying", "1"),
        ("Correctly illustrates complex question", "0"),
        ("Correctly illustrates Red-Herring", "1"),
        ("**Metaphor**", "1"),
        ("Text makes sense", "1"),
        ("At most two sentences", "1"),
    ]
    parsed = parse_judge_reply(table(rows, total="5"), SKILLS, TOPIC)
    assert parsed.points["skill:complex question (loaded question with implicit assumption )"].value == 0
    assert parsed.points["skill:red herring"].value == 1
    assert parsed.points["skill:metaphor"].value == 1
    assert parsed.status == "ok"


def test_fractional_point_is_kept_as_such():
    rows = list(FULL)
    rows[0] = ("Correctly illustrates metaphor", "0.5")
    parsed = parse_judge_reply(table(rows, total="4.5"), SKILLS, TOPIC)
    point = parsed.points["skill:metaphor"]
    assert (point.value, point.raw_value, point.status) == (None, "0.5", "fractional")


def test_contradicting_total_is_flagged():
    parsed = parse_judge_reply(table(FULL, total="6"), SKILLS, TOPIC)
    assert parsed.status == "ok,total_mismatch"


def test_unknown_row_is_reported_not_guessed():
    rows = [*FULL, ("Uses vivid imagery", "1")]
    parsed = parse_judge_reply(table(rows, total="5"), SKILLS, TOPIC)
    assert "Uses vivid imagery" in parsed.unmatched
    assert parsed.points["skill:metaphor"].value == 1


def test_empty_reply_marks_every_criterion_empty():
    parsed = parse_judge_reply("Could you please send me the student's answer?", SKILLS, TOPIC)
    assert parsed.status == "empty"
    assert {p.status for p in parsed.points.values()} == {"empty"}


def test_point_earned_format_with_headings_and_truncation():
    reply = (
        "Here is my grading:\n\n"
        "**Red Herring**: The text changes the subject. Point earned: 1\n\n"
        "1. Correctly illustrates metaphor:\nNo metaphor here.\nPoint earned: 0\n\n"
        "Point earned for complex question (loaded question with implicit assumption): 1\n\n"
        "Pertains to Kite flying: yes. Point earned:"
    )
    parsed = parse_judge_reply(reply, SKILLS, TOPIC)
    assert parsed.fmt == "points"
    assert parsed.points["skill:red herring"].value == 1
    assert parsed.points["skill:metaphor"].value == 0
    assert parsed.points["skill:complex question (loaded question with implicit assumption )"].value == 1
    assert parsed.points["topic"].status == "unparsed"
    assert parsed.points["makes_sense"].status == "missing"


def test_our_json_format_with_reasons():
    reply = (
        '{"skill:metaphor": {"pass": 1, "reason": "kite as a restless bird"}, "skill:red herring": {"pass": 0,'
        ' "reason": "none"}, "skill:complex question (loaded question with implicit assumption )": {"pass": true,'
        ' "reason": "why do you always"}, "topic": {"pass": 1, "reason": "kites"}, "makes_sense": {"pass": 1,'
        ' "reason": "clear"}, "sentence_limit": {"pass": 1, "reason": "two"}}'
    )
    parsed = parse_judge_reply(reply, SKILLS, TOPIC)
    assert parsed.fmt == "json" and parsed.status == "ok"
    assert parsed.points["skill:metaphor"].reason == "kite as a restless bird"
    assert parsed.points["skill:complex question (loaded question with implicit assumption )"].value == 1


def test_malformed_json_is_not_guessed():
    parsed = parse_judge_reply('{"skill:metaphor": {"pass": 1, ', SKILLS, TOPIC)
    assert parsed.status == "empty"


def test_answer_is_text_after_last_answer_before_explanation():
    reply = "Answer: draft\nExplanation: x\n\nSure! Answer: The kite sulked. \nExplanation: metaphor"
    assert extract_answer(reply) == "The kite sulked."
    assert extract_answer("Answer:\n\nExplanation: nothing") == ""
    assert extract_answer("no marker at all") == "no marker at all"
