"""The embedded models' build script: its corpus keeps test rows out, its label drills ask what
ARC's target needs, and the command it records names no machine's folders."""
import importlib.util
import re
from pathlib import Path

import pytest

from bench_lib.tasks import get_task
from bench_lib.tasks.fixtures import _key, generate_rows

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_embedded_models.py"


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("build_embedded_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_drill_asks_the_label_of_a_named_choice_and_answers_as_arc_does(build):
    corpus = build.Corpus(seed=3, drill_share=1.0)
    arc = get_task("arc")
    for _ in range(40):
        task, (user, assistant) = corpus.next()
        assert task == "drill"
        named = re.search(r"Question: Which letter is (.+)\?\n", user["content"]).group(1)
        choices = dict(re.findall(r"^([A-E])\. (.+)$", user["content"], flags=re.M))
        [label] = [lab for lab, text in choices.items() if text == named]
        assert assistant["content"] == f" {named} ({label}). The answer is ({label})."
        assert arc.extract_choice(assistant["content"], list(choices)) == label


def test_the_drill_share_moves_from_start_to_end_over_the_schedule(build):
    corpus = build.Corpus(seed=4, drill_share=1.0, drill_share_end=0.0)
    assert all(corpus.next(progress=0.0)[0] == "drill" for _ in range(30))
    assert all(corpus.next(progress=1.0)[0] != "drill" for _ in range(30))


def test_the_corpus_holds_no_test_question(build):
    corpus = build.Corpus(seed=5, drill_share=0.2)
    test_keys = {t: {_key(r) for r in generate_rows(t, "test")} for t in ("arc", "squad", "openmath")}
    drawn = [corpus.next_row() for _ in range(600)]
    assert {task for task, _ in drawn} == {"arc", "squad", "openmath"}
    assert not [row for task, row in drawn if _key(row) in test_keys[task]]
    assert corpus.rejected_test > 0  # test questions were drawn, and turned away


def test_the_recorded_command_keeps_folder_names_only(build):
    cmd = build.recorded_command(["--out", "/home/me/models", "--resume", "/tmp/x/phase1", "--steps", "10",
                                  "--phase-note", "two words"])
    assert cmd == ("python scripts/build_embedded_models.py --out models --resume phase1 --steps 10 "
                   "--phase-note 'two words'")


def test_targets_begin_with_the_prompts_own_token_for_the_answer():
    # Byte-level BPE spells " plum" (after a space, as in the prompt) differently from "plum".
    arc = get_task("arc").parse_row(generate_rows("arc", "test")[0], "row")
    squad = [get_task("squad").parse_row(r, "row") for r in generate_rows("squad", "test")[:20]]
    math = get_task("openmath").parse_row(generate_rows("openmath", "test")[0], "row")
    assert arc.reference.startswith(" ") and f"\n{arc.gold}. {arc.reference.split(' (')[0][1:]}\n" in arc.prompt + "\n"
    answered = [ex for ex in squad if ex.gold]
    assert answered and all(ex.reference == f" {ex.gold[0]}" and ex.reference in ex.prompt for ex in answered)
    assert any(ex.reference == "unanswerable" for ex in squad)
    assert re.match(r" (\d+) ", math.reference).group(1) in re.findall(r"\d+", math.prompt)


def test_the_unanswerable_share_of_squad_rows_follows_noans_share(build):
    def unanswerable_share(corpus):
        rows = [row for task, row in (corpus.next_row() for _ in range(900)) if task == "squad"]
        return sum(not row["answers"]["text"] for row in rows) / len(rows)

    weights = {"arc": 0.1, "squad": 0.8, "openmath": 0.1}
    # The generator's own share is a third; noans_share draws the kind first, then a row of it.
    assert 0.25 < unanswerable_share(build.Corpus(seed=6, weights=weights, keep_noans=1.0)) < 0.42
    assert 0.65 < unanswerable_share(build.Corpus(seed=6, weights=weights, noans_share=0.75)) < 0.85
    assert unanswerable_share(build.Corpus(seed=6, weights=weights, noans_share=0.0)) == 0.0
