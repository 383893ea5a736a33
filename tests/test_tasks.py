"""Task loading from fixtures, local files and (a local copy of) hub datasets; bad input errors."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench_lib.tasks import fixtures, get_task
from bench_lib.tasks.base import DataError
from bench_lib.tasks.loading import load_examples, load_rows


@pytest.mark.parametrize("task", ["arc", "squad", "openmath"])
def test_fixtures_load_with_hub_schema(task):
    train, test = load_examples(task, "train"), load_examples(task, "test")
    assert len(train) == fixtures.SPLIT_SIZES["train"] and len(test) == fixtures.SPLIT_SIZES["test"]
    train_keys = {fixtures._key(r) for r in load_rows(task, "train")[0]}
    assert train_keys.isdisjoint(fixtures._key(r) for r in load_rows(task, "test")[0])
    # A correct answer scores perfectly with the task's own scorer: prompts, references and scorer agree.
    scores = get_task(task).score([e.reference for e in test], test)
    best = {"arc": ("arc_accuracy", 1.0), "squad": ("squad_f1", 100.0), "openmath": ("openmath_exact", 1.0)}[task]
    assert scores[best[0]] == pytest.approx(best[1])


def test_committed_fixtures_match_the_generator():
    for task in fixtures.GENERATORS:
        for split in fixtures.SPLIT_SIZES:
            committed = pq.read_table(fixtures.FIXTURE_DIR / f"{task}-{split}.parquet").to_pylist()
            assert committed == fixtures.generate_rows(task, split), f"{task}-{split} drifted from the generator"


def test_squad_fixture_has_unanswerable_share_and_true_spans():
    rows, _ = load_rows("squad", "test")
    unanswerable = sum(not r["answers"]["text"] for r in rows)
    assert 0.2 < unanswerable / len(rows) < 0.45
    for r in rows:
        for text, start in zip(r["answers"]["text"], r["answers"]["answer_start"]):
            assert r["context"][start:start + len(text)] == text


def _write(folder, name, rows, fmt):
    path = folder / f"{name}.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_local_data_dir(tmp_path, monkeypatch, fmt):
    rows = fixtures.generate_rows("openmath", "test")[:5]
    _write(tmp_path, "openmath-test", rows, fmt)
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path))
    examples = load_examples("openmath", "test")
    assert [e.gold.value for e in examples] == [float(r["expected_answer"]) for r in rows]


def test_missing_file_names_the_folder_and_the_expected_names(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"no arc-test\.parquet or arc-test\.jsonl"):
        load_examples("arc", "test")


@pytest.mark.parametrize("mutate,message", [
    (lambda r: r.pop("question"), r"row 1: field 'question' is missing"),
    (lambda r: r.update(answerKey="Z"), r"row 1: field 'answerKey' is 'Z', not one of the labels"),
    (lambda r: r.update(choices={"text": ["x"], "label": ["A", "B"]}), r"row 1: field 'choices' has 1 texts but 2 labels"),
    (lambda r: r.update(question=7), r"row 1: field 'question' should be str, got int"),
])
def test_malformed_row_names_file_row_and_field(tmp_path, mutate, message):
    rows = fixtures.generate_rows("arc", "test")[:3]
    mutate(rows[1])
    path = _write(tmp_path, "arc-test", rows, "jsonl")
    with pytest.raises(DataError, match=message) as info:
        load_examples("arc", "test", source=str(tmp_path))
    assert str(path) in str(info.value)


def test_bad_json_line_is_reported_with_its_line(tmp_path):
    (tmp_path / "squad-test.jsonl").write_text('{"context": "x"}\n{not json\n')
    with pytest.raises(DataError, match=r"squad-test\.jsonl: row 2: not valid JSON"):
        load_examples("squad", "test", source=str(tmp_path))


def test_corrupt_parquet_is_reported(tmp_path):
    (tmp_path / "arc-test.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"arc-test\.parquet: not a readable parquet file"):
        load_examples("arc", "test", source=str(tmp_path))


def test_hub_loader_reads_a_local_copy_of_a_hub_dataset_repo(tmp_path):
    """The real datasets.load_dataset path, pointed at a repository laid out as on the hub
    (ai2_arc: one folder per config, a README declaring the configs)."""
    repo = tmp_path / "ai2_arc"
    (repo / "ARC-Challenge").mkdir(parents=True)
    for split in ("train", "test"):
        rows = fixtures.generate_rows("arc", split)[:4]
        pq.write_table(pa.Table.from_pylist(rows), repo / "ARC-Challenge" / f"{split}-00000-of-00001.parquet")
    (repo / "README.md").write_text(
        "---\nconfigs:\n- config_name: ARC-Challenge\n  data_files:\n"
        "  - split: train\n    path: ARC-Challenge/train-*\n  - split: test\n    path: ARC-Challenge/test-*\n---\n")
    examples = load_examples("arc", "test", source=f"hub:{repo}")
    assert [e.gold for e in examples] == [r["answerKey"] for r in fixtures.generate_rows("arc", "test")[:4]]


def test_unknown_task_and_source():
    with pytest.raises(KeyError, match="known tasks: arc, squad, openmath"):
        get_task("mmlu")
    with pytest.raises(DataError, match="neither 'fixtures', 'hub'"):
        load_rows("arc", "test", source="/no/such/folder")
