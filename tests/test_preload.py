"""The forkserver preload (bench_lib.tracking.preload): which asv runs import torch and friends in the
server before it forks, checked on the setting alone and then through real asv runs of `make bench`'s
asv step, where a benchmark process reports whether torch was already imported when it started."""
import sys

import pytest

from bench_lib.config import ConfigError
from bench_lib.tracking import preload
from tests.asv_scratch import ROOT, result_values, run_bench, scratch_project


def test_only_asvs_server_process_counts_as_the_forkserver():
    assert preload.in_forkserver(["/x/asv/benchmark.py", "run_server", "/b", "/tmp/socket"])
    assert not preload.in_forkserver(["/x/asv/benchmark.py", "run", "/b", "bench_a.track_x", "{}", "p", "r"])
    assert not preload.in_forkserver(["/x/asv/benchmark.py", "setup_cache", "/b", "bench_a.T.track_x", "{}"])
    assert not preload.in_forkserver(["pytest"])
    assert preload.in_server() is None  # pytest is not asv's server: nothing is imported


def test_a_file_is_timed_when_it_declares_a_time_timeraw_or_peakmem_method(tmp_path):
    cases = {
        "method.py": ("class T:\n    def time_generate(self, x):\n        pass\n", True),
        "module_level.py": ("def peakmem_load():\n    pass\n", True),
        "timeraw.py": ("class T:\n    def timeraw_import(self):\n        return ''\n", True),
        "tracks_only.py": ("class T:\n    def setup_cache(self):\n        return {}\n\n"
                           "    track_x = common.track('x')\n    def track_y(self):\n        return 1\n", False),
        "mention_only.py": ("# a time_ method would load the model\nTIME_PREFIX = 'time_x('\n", False),
    }
    for name, (text, timed) in cases.items():
        (tmp_path / name).write_text(text)
        assert preload.declares_timed(tmp_path / name) is timed, name
    assert preload.declares_timed(tmp_path / "missing.py") is False


def test_the_suites_timed_files_are_the_ones_that_preload(monkeypatch):
    monkeypatch.delenv(preload.ENV, raising=False)
    files = sorted((ROOT / "benchmarks").glob("bench_*.py"))
    resolved = {p.stem: preload.for_area(p, "forkserver") for p in files}
    assert {k for k, v in resolved.items() if v == "on"} == {"bench_engines", "bench_inference", "bench_train"}
    assert preload.for_area(None, "forkserver") == "on"  # a run narrowed by --bench may reach a timed file
    # spawn (asv's default, and make bench's on CUDA) forks nothing: there is nothing to preload
    assert {preload.for_area(p, launch) for p in files for launch in ("spawn", "auto", None)} == {"off"}


@pytest.mark.parametrize("value", ["on", "off"])
def test_an_explicit_setting_applies_to_every_file(monkeypatch, value):
    monkeypatch.setenv(preload.ENV, value)
    assert {preload.for_area(p, "forkserver") for p in (ROOT / "benchmarks").glob("bench_*.py")} == {value}
    assert preload.for_area(None, "forkserver") == value
    assert preload.for_area(None, "spawn") == "off"


@pytest.mark.parametrize("value,preloads", [("on", True), ("off", False), ("auto", False), ("", False)])
def test_the_server_preloads_only_when_on(monkeypatch, value, preloads):
    # `auto` is resolved by make bench; a plain asv run with it imports only the benchmark files.
    monkeypatch.setenv(preload.ENV, value)
    monkeypatch.setattr(sys, "argv", ["/x/asv/benchmark.py", "run_server", "/b", "/tmp/socket"])
    monkeypatch.setattr(preload, "MODULES", ("json",))
    done = preload.in_server()
    assert (done is not None) is preloads
    if preloads:
        assert set(done) == {"json"}


def test_timed_classes_forked_after_the_preload_are_another_series(monkeypatch):
    monkeypatch.setenv(preload.ENV, "on")
    assert preload.series_version("generate-2") == "generate-2+forked-after-preload"
    for value in ("off", "auto", "bad"):
        monkeypatch.setenv(preload.ENV, value)
        assert preload.series_version("generate-2") == "generate-2"


def test_a_bad_setting_is_one_line_naming_the_variable_and_the_fix(monkeypatch):
    monkeypatch.setenv(preload.ENV, "yes")
    with pytest.raises(ConfigError) as err:
        preload.setting()
    assert "BENCH_FORK_PRELOAD='yes'" in str(err.value) and "auto, on, off" in str(err.value)
    from bench_lib import preflight

    assert any("BENCH_FORK_PRELOAD" in line for line in preflight.errors())
    monkeypatch.setenv(preload.ENV, "")
    assert preload.setting() == "auto"


def test_preload_reports_seconds_or_the_reason_and_never_raises():
    done = preload.preload(("json", "no_such_module_for_llm_bench", "email.mime.text"))
    assert isinstance(done["json"], float) and done["json"] >= 0
    assert isinstance(done["email.mime.text"], float)
    assert done["no_such_module_for_llm_bench"].startswith("ModuleNotFoundError")
    assert "email.mime.text" in sys.modules


# A real asv run through `make bench`'s step: the suite's package calls preload.in_server() as
# benchmarks/common.py does; each file's track reports whether torch was in sys.modules when its
# forked process ran it. Neither file imports torch itself.
SUITE = {
    "__init__.py": "from bench_lib.tracking import preload\npreload.in_server()\n",
    "bench_light.py": ("import sys\n\ndef track_torch_loaded():\n    return float('torch' in sys.modules)\n"),
    "bench_timed.py": ("import sys\n\ndef track_torch_loaded():\n    return float('torch' in sys.modules)\n\n"
                       "def time_nothing():\n    pass\n"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return scratch_project(tmp_path_factory.mktemp("preload"), SUITE)


def _loaded(project, launch: str, **env) -> dict:
    run = run_bench(project, launch=launch, **env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return {name.split(".")[0]: result[0] for name, result in result_values(project).items()
            if name.endswith("track_torch_loaded")}


@pytest.mark.slow
def test_the_forkserver_of_a_timed_file_has_torch_imported_before_it_forks(project):
    assert _loaded(project, "forkserver") == {"bench_light": 0.0, "bench_timed": 1.0}


@pytest.mark.slow
def test_off_or_spawn_leaves_every_process_to_import_for_itself(project):
    assert _loaded(project, "forkserver", BENCH_FORK_PRELOAD="off") == {"bench_light": 0.0, "bench_timed": 0.0}
    assert _loaded(project, "spawn") == {"bench_light": 0.0, "bench_timed": 0.0}
