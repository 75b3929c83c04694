"""Print how the sentence counts and answers of the text corpus agree, per kind (docs/text-handling.md).

    python -m tests.core.corpus_report

Per kind of case: n; the program's count = the hand count; the reference's regex count = the hand
count; the program's count = the reference's; and, for replies, the program's answer = the hand
choice and the reference's rule's answer = the hand choice.
"""

from __future__ import annotations

from collections import defaultdict

from gradeapp.core.parsing import extract_answer, extract_answer_reference
from gradeapp.core.rubric import _segmenter, count_sentences, count_sentences_reference
from tests.core.test_text_corpus import ADVERSARIAL, LOCAL, REFERENCE, _reply, expected_answer


def tally() -> dict[str, list[int]]:
    """Return per kind: [n, ours = hand, regex = hand, ours = regex, answers n, ours = hand, ref rule = hand,
    pysbd alone = hand]."""
    table: dict[str, list[int]] = defaultdict(lambda: [0] * 8)
    for case in ADVERSARIAL + LOCAL + REFERENCE:
        if "sentences" not in case:
            continue
        group = "reference" if case["id"].startswith("ref-") else case["kind"]
        group = "local model" if case["id"].startswith("local-") else group
        counts = table[group]
        if "text" in case:
            text = case["text"]
        else:
            reply = _reply(case)
            text = expected_answer(case, reply)
            counts[4] += 1
            counts[5] += extract_answer(reply) == text
            counts[6] += extract_answer_reference(reply) == text
        ours, regex = count_sentences(text), count_sentences_reference(text)
        counts[0] += 1
        counts[1] += ours == case["sentences"]
        counts[2] += regex == case["sentences"]
        counts[3] += ours == regex
        counts[7] += (
            len([p for p in _segmenter().segment(text) if p.strip()] if text.strip() else [])
            == case["sentences"]
        )
    return table


def main() -> int:
    table = tally()
    print(
        "| kind | cases | ours = hand | reference regex = hand | ours = regex | pysbd alone = hand | answers: ours = hand | reference rule = hand |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    total = [0] * 8
    for kind in sorted(table):
        row = table[kind]
        total = [a + b for a, b in zip(total, row, strict=True)]
        answers = f"{row[5]}/{row[4]}" if row[4] else "-"
        rule = f"{row[6]}/{row[4]}" if row[4] else "-"
        print(f"| {kind} | {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[7]} | {answers} | {rule} |")
    print(
        f"| **all** | {total[0]} | {total[1]} | {total[2]} | {total[3]} | {total[7]} | {total[5]}/{total[4]} "
        f"| {total[6]}/{total[4]} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
