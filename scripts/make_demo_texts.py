"""Write the demo's composed texts (demo-062 onward) into gradeapp/data/demo/generations.jsonl.

The first 61 demo texts were written one by one; these are composed, with a seeded RNG, from clauses we
wrote for each skill: a clause that shows the skill or a near miss that does not (the truth is recorded
in each record's meta), in topic vocabulary or, for an off-topic text, in an office's. Run it again to
rebuild the same lines: `python scripts/make_demo_texts.py`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

FILE = Path(__file__).resolve().parents[1] / "gradeapp" / "data" / "demo" / "generations.jsonl"
FIRST_COMPOSED = 62
SEED = 1010

# skill -> (clauses that show it, near misses that do not)
CLAUSES: dict[str, tuple[list[str], list[str]]] = {
    "euphemism": (
        ["{person} said the old {thing} had simply reached the end of its working life",
         "{person} called the ruined {thing} a learning opportunity"],
        ["{person} said the old {thing} was broken and useless"],
    ),
    "understatement": (
        ["after the storm tore half the roof off {place}, {person} admitted it had been a bit breezy",
         "{person}, soaked to the bone after {act}, allowed that the weather was not ideal"],
        ["after the storm {person} said the night at {place} had been terrible"],
    ),
    "modus ponens": (
        ["if the {thing} is ready then {person} starts {act}, and the {thing} is ready, so {person} starts",
         "whenever the wind drops {person} begins {act}, the wind has dropped, so off we go"],
        ["{person} starts {act} whenever it feels right"],
    ),
    "modus tollens": (
        ["had the {thing} been ready, {person} would be {act} by now, and since that is not happening it cannot be ready",
         "if the {thing} were dry it would ring when tapped, it gives only a dull thud, so it is not dry"],
        ["the {thing} is not ready and {person} is not {act} either"],
    ),
    "red herring": (
        ["when asked why {act} took all night, {person} began talking about the price of parking in town",
         "asked about the cracked {thing}, {person} praised the lovely weather instead"],
        ["when asked why {act} took all night, {person} explained the delay"],
    ),
    "false dilemma (either-or fallacy)": (
        ["{person} insisted we either finish {act} tonight or give it up forever",
         "according to {person}, you either own a proper {thing} or you are not serious at all"],
        ["{person} suggested we finish {act} tonight or perhaps next week"],
    ),
    "sunk cost fallacy": (
        ["{person} kept on {act} long after it stopped being fun, since three years of effort could not be for nothing",
         "we had paid so much for the {thing} that {person} refused to stop using it although it never worked"],
        ["{person} stopped {act} once it stopped being fun"],
    ),
    "alliteration": (
        ["{person} did slow, steady, stubborn work at {place}",
         "bright blue banners billowed beside {place}"],
        ["{person} did slow and careful work at {place}"],
    ),
    "personification": (
        ["the {thing} grumbled and sulked whenever {person} came near",
         "{place} held its breath while {person} got on with {act}"],
        ["the {thing} made a noise whenever {person} came near"],
    ),
    "false belief (Sally-Anne test)": (
        ["{person} left the {thing} in the blue box, a friend moved it while {person} was out, so {person} came back and searched the blue box first",
         "Tomas hid the {thing} in the drawer, his sister moved it to the shelf while he slept, and in the morning he opened the drawer"],
        ["{person} left the {thing} in the blue box and found it there later"],
    ),
    "second-order belief": (
        ["Mara thinks that {person} believes the {thing} is still at {place}",
         "Leo suspects his aunt assumes he never learned {act}"],
        ["Mara thinks the {thing} is still at {place}"],
    ),
    "white lie": (
        ["{person} told the apprentice the lopsided {thing} looked wonderful, to spare a beginner's feelings",
         "I said I loved the gift of a second {thing}, which was kinder than the truth"],
        ["{person} told the apprentice the lopsided {thing} needed more work"],
    ),
    "folk physics (intuitive physics)": (
        ["{person} set the heavy {thing} on the lowest shelf, knowing a top-heavy load tips over",
         "{person} held the {thing} close to the body to carry it, where it felt lighter"],
        ["{person} set the {thing} on a shelf"],
    ),
    "buoyancy": (
        ["the cork float bobbed back up to the surface beside {place}",
         "the empty bottle floated while the full one sank to the bottom near {place}"],
        ["the float sat beside {place}"],
    ),
    "thermal expansion": (
        ["the metal lid stuck, so {person} ran it under hot water until it loosened",
         "the brass fitting that slid on easily in summer would not fit in the cold of {place}"],
        ["the metal lid stuck, so {person} asked for help"],
    ),
    "counterfactual reasoning": (
        ["had {person} started {act} an hour earlier, the rain would have missed us",
         "if the {thing} had not cracked, {person} would have won the prize at {place}"],
        ["{person} started {act} an hour late and the rain came"],
    ),
}  # fmt: skip

VOCAB = {
    "Lighthouse keeping": ("the keeper", "lamp", "the tower", "trimming the wick"),
    "Sourdough baking": ("the baker", "starter", "the bakery", "shaping the loaves"),
    "Bookbinding": ("the binder", "spine", "the bindery", "sewing the signatures"),
    "Cave diving": ("the diver", "guideline reel", "the flooded passage", "laying the line"),
    "Clock repair": ("the clockmaker", "escapement", "the workshop", "oiling the gears"),
    "Mushroom foraging": ("the forager", "basket", "the beech wood", "checking the gills"),
    "Ice fishing": ("the angler", "auger", "the frozen lake", "drilling the hole"),
    "Kite flying": ("the flyer", "kite", "the hilltop", "letting out the line"),
    "Pottery glazing": ("the potter", "glaze bucket", "the studio", "dipping the bowls"),
    "Amateur astronomy": ("the stargazer", "telescope", "the dark field", "aligning the finder"),
}
OFF_TOPIC = ("the clerk", "stapler", "the tax office", "filing the forms")
NONSENSE = "and the Thursday inside the {thing} tasted faintly of geometry"

STUDENTS = {"demo-atlas-70b": (70, 0.95), "demo-birch-13b": (13, 0.82), "demo-cedar-7b": (7, 0.64)}
PER_CELL = {2: 6, 3: 6, 4: 7, 5: 15}


def _sentences(clauses: list[str], n: int) -> str:
    """Join clauses into n sentences (', and' inside a sentence), each starting with a capital."""
    n = max(1, min(n, len(clauses)))
    cuts = sorted(random.Random(len(clauses) * 31 + n).sample(range(1, len(clauses)), n - 1))
    parts, start = [], 0
    for cut in [*cuts, len(clauses)]:
        body = ", and ".join(clauses[start:cut])
        parts.append(body[0].upper() + body[1:] + ".")
        start = cut
    return " ".join(parts)


def compose(rng: random.Random, number: int, student: str, k: int) -> dict:
    """Return one composed demo record with its truth."""
    params_b, skill_p = STUDENTS[student]
    skills = rng.sample(sorted(CLAUSES), k)
    topic = rng.choice(sorted(VOCAB))
    on_topic = rng.random() < 0.85 + 0.15 * skill_p
    person, thing, place, act = VOCAB[topic] if on_topic else OFF_TOPIC
    truth: dict[str, int] = {}
    clauses = []
    for s in skills:
        good = rng.random() < skill_p - 0.03 * (k - 2)
        truth[f"skill:{s}"] = int(good)
        template = rng.choice(CLAUSES[s][0] if good else CLAUSES[s][1])
        clauses.append(template.format(person=person, thing=thing, place=place, act=act))
    rng.shuffle(clauses)
    sense = rng.random() < 0.88 + 0.12 * skill_p
    if not sense:
        clauses[-1] += " " + NONSENSE.format(thing=thing)
    limit = max(1, k - 1)
    within = rng.random() < 0.7 + 0.3 * skill_p
    text = _sentences(clauses, limit if within else limit + 1)
    truth["topic"] = int(on_topic)
    truth["makes_sense"] = int(sense)
    return {
        "id": f"demo-{number:03d}",
        "student": student,
        "k": k,
        "skills": skills,
        "topic": topic,
        "round": 1,
        "text": text,
        "meta": {"truth": truth, "params_b": params_b, "demo": "composed"},
    }


def main() -> None:
    """Rewrite the composed part of the demo's generations file (the written texts stay as they are)."""
    lines = FILE.read_text(encoding="utf-8").splitlines()
    written = [ln for ln in lines if int(json.loads(ln)["id"].split("-")[1]) < FIRST_COMPOSED]
    rng = random.Random(SEED)
    number = FIRST_COMPOSED
    composed = []
    for k, n in PER_CELL.items():
        for student in STUDENTS:
            for _ in range(n):
                composed.append(json.dumps(compose(rng, number, student, k), ensure_ascii=False))
                number += 1
    FILE.write_text("\n".join(written + composed) + "\n", encoding="utf-8")
    print(f"{len(written)} written + {len(composed)} composed demo texts in {FILE}")


if __name__ == "__main__":
    main()
