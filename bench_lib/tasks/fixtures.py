"""Seeded generator of the bundled synthetic task fixtures.

The rows use the same schema as the hub datasets (allenai/ai2_arc, rajpurkar/squad_v2,
nvidia/OpenMathInstruct-2), so the loaders treat fixtures, local files and hub data alike.
The questions are simple enough for a 4-layer model to learn in minutes on a CPU and hard
enough that it does not get them all right: the point is a task metric that moves when a
quantizer or an adapter damages the model, not a leaderboard.

Regenerate with `python -m bench_lib.tasks.fixtures` (a test checks the committed files
match the generator byte for byte in content).
"""
from __future__ import annotations

import random
from pathlib import Path

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "data" / "fixtures"
SPLIT_SIZES = {"train": 1000, "test": 200}
# Different seeds per split so that test rows are not copies of train rows.
SEEDS = {"train": 1234, "test": 98765}

CATEGORIES = {
    "animal": ["cat", "dog", "horse", "rabbit", "tiger", "sheep", "mouse", "eagle", "whale", "goat"],
    "fruit": ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "pear", "plum", "melon"],
    "tool": ["hammer", "saw", "wrench", "drill", "chisel", "shovel", "rake", "pliers", "axe", "ladder"],
    "color": ["red", "blue", "green", "yellow", "purple", "gray", "black", "white", "brown", "pink"],
    "vehicle": ["car", "bus", "truck", "bicycle", "train", "boat", "plane", "tractor", "scooter", "van"],
    "instrument": ["piano", "violin", "guitar", "drum", "flute", "trumpet", "harp", "cello", "banjo", "oboe"],
}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NAMES = ["Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack",
         "Karen", "Leo", "Maria", "Nina", "Oscar", "Paul", "Rosa", "Sam", "Tina", "Victor"]
CITIES = ["Paris", "London", "Berlin", "Madrid", "Rome", "Vienna", "Oslo", "Dublin", "Lisbon", "Prague"]
JOBS = ["baker", "doctor", "teacher", "pilot", "farmer", "painter", "nurse", "lawyer", "chef", "driver"]
PETS = ["cat", "dog", "parrot", "rabbit", "turtle", "hamster"]


def _arc_row(rng: random.Random, i: int, split: str) -> dict:
    kind = rng.choice(["is_a", "is_not_a", "largest", "smallest", "after"])
    n_choices = rng.choice([4, 4, 4, 3, 5])
    if kind in ("is_a", "is_not_a"):
        cat = rng.choice(sorted(CATEGORIES))
        others = [w for c, ws in CATEGORIES.items() if c != cat for w in ws]
        if kind == "is_a":
            answer = rng.choice(CATEGORIES[cat])
            distract = rng.sample(others, n_choices - 1)
            question = f"Which of these is a {cat}?"
        else:
            answer = rng.choice(others)
            distract = rng.sample(CATEGORIES[cat], n_choices - 1)
            question = f"Which of these is not a {cat}?"
        options = distract + [answer]
    elif kind in ("largest", "smallest"):
        options = [str(x) for x in rng.sample(range(1, 100), n_choices)]
        pick = max if kind == "largest" else min
        answer = str(pick(int(x) for x in options))
        question = f"Which number is the {kind}?"
    else:
        day = rng.randrange(7)
        answer = WEEKDAYS[(day + 1) % 7]
        options = rng.sample([d for d in WEEKDAYS if d != answer], n_choices - 1) + [answer]
        question = f"Which day comes after {WEEKDAYS[day]}?"
    rng.shuffle(options)
    labels = ["A", "B", "C", "D", "E"][:n_choices]
    return {
        "id": f"synthetic-arc-{split}-{i:04d}",
        "question": question,
        "choices": {"text": options, "label": labels},
        "answerKey": labels[options.index(answer)],
    }


def _squad_row(rng: random.Random, i: int, split: str) -> dict:
    people = rng.sample(NAMES, rng.choice([2, 3]))
    facts: dict[str, dict[str, str]] = {}
    sentences = []
    for name in people:
        f = {}
        for attr in rng.sample(["city", "job", "pet"], rng.choice([1, 2])):
            if attr == "city":
                f[attr] = rng.choice(CITIES)
                sentences.append(f"{name} lives in {f[attr]}.")
            elif attr == "job":
                f[attr] = rng.choice(JOBS)
                sentences.append(f"{name} works as a {f[attr]}.")
            else:
                f[attr] = rng.choice(PETS)
                sentences.append(f"{name} has a {f[attr]}.")
        facts[name] = f
    rng.shuffle(sentences)
    context = " ".join(sentences)
    questions = {"city": "Where does {} live?", "job": "What does {} work as?", "pet": "What pet does {} have?"}
    if rng.random() < 1 / 3:
        # Unanswerable: either an absent person or an attribute the context does not state.
        if rng.random() < 0.5:
            name = rng.choice([n for n in NAMES if n not in people])
            attr = rng.choice(sorted(questions))
        else:
            name = rng.choice(people)
            missing = [a for a in questions if a not in facts[name]]
            attr = rng.choice(missing) if missing else "city"
            if attr in facts[name]:
                name = rng.choice([n for n in NAMES if n not in people])
        answers = {"text": [], "answer_start": []}
    else:
        name = rng.choice(people)
        attr = rng.choice(sorted(facts[name]))
        value = facts[name][attr]
        sentence = next(s for s in sentences if s.startswith(name + " ") and value in s)
        start = context.index(sentence) + sentence.index(value)
        answers = {"text": [value], "answer_start": [start]}
    return {
        "id": f"synthetic-squad-{split}-{i:04d}",
        "title": "Synthetic",
        "context": context,
        "question": questions[attr].format(name),
        "answers": answers,
    }


def _openmath_row(rng: random.Random, i: int, split: str) -> dict:
    kind = rng.choice(["add", "add", "sub", "mul", "half"])
    if kind == "add":
        a, b = rng.randint(1, 60), rng.randint(1, 60)
        problem, expr, value = f"What is {a} + {b}?", f"{a} + {b}", a + b
    elif kind == "sub":
        a, b = rng.randint(10, 90), rng.randint(1, 60)
        problem, expr, value = f"What is {a} - {b}?", f"{a} - {b}", a - b
    elif kind == "mul":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        problem, expr, value = f"What is {a} times {b}?", f"{a} * {b}", a * b
    else:
        a = 2 * rng.randint(1, 50)
        problem, expr, value = f"What is half of {a}?", f"{a} / 2", a // 2
    return {
        "problem": problem,
        "generated_solution": f"{expr} = {value}. The answer is \\boxed{{{value}}}.",
        "expected_answer": str(value),
        "problem_source": "synthetic",
    }


GENERATORS = {"arc": _arc_row, "squad": _squad_row, "openmath": _openmath_row}


def _key(row: dict) -> tuple:
    """What makes two rows the same question (ids and answer order aside)."""
    if "choices" in row:
        return row["question"], tuple(sorted(row["choices"]["text"]))
    if "context" in row:
        return row["context"], row["question"]
    return (row["problem"],)


def generate_rows(task: str, split: str) -> list[dict]:
    # A per-(task, split) seed keeps each file stable when another task's generator changes.
    rng = random.Random(f"{SEEDS[split]}-{task}")
    # Train never contains a test question, so the task score measures generalisation, not recall.
    exclude = {_key(r) for r in generate_rows(task, "test")} if split == "train" else set()
    rows, seen = [], set()
    while len(rows) < SPLIT_SIZES[split]:
        row = GENERATORS[task](rng, len(rows), split)
        if _key(row) not in exclude and (split == "train" or _key(row) not in seen):
            rows.append(row)
            seen.add(_key(row))
    return rows


def write_fixtures(out_dir: Path = FIXTURE_DIR) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for task in GENERATORS:
        for split in SPLIT_SIZES:
            path = out_dir / f"{task}-{split}.parquet"
            pq.write_table(pa.Table.from_pylist(generate_rows(task, split)), path)
            written.append(path)
    return written


if __name__ == "__main__":
    for p in write_fixtures():
        print(p)
