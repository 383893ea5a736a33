"""The package layout: bench_lib's imports form no circle, case modules are imported only from
above (an area's cli.py, the command-line entry points, benchmarks/ and tests), and asv discovers
no shared declaration as a benchmark."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bench_lib"
# Above every area, like benchmarks/: the commands that run any area's grids, and preflight,
# which checks every area's settings with the readers its case functions use.
ENTRY_POINTS = {"bench_lib.cli", "bench_lib.gpu_check", "bench_lib.preflight"}


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known) -> set[str]:
    """The package's modules `name` imports, at module level or inside functions; a package's own
    __init__, imported implicitly by its submodules, does not count."""
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([mod] if mod else []))
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(package)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def is_case_module(name: str) -> bool:
    leaf = name.rpartition(".")[2]
    return leaf == "cases" or leaf.startswith("cases_")


def upward_imports(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, case module) pairs where the importer is neither a case module of the same
    package nor that package's cli.py nor an entry point."""
    bad = []
    for importer, targets in edges.items():
        for target in targets:
            if not is_case_module(target):
                continue
            package = target.rpartition(".")[0]
            same_package = importer.rpartition(".")[0] == package
            if importer in ENTRY_POINTS or (same_package and (is_case_module(importer) or importer.endswith(".cli"))):
                continue
            bad.append((importer, target))
    return sorted(bad)


def test_bench_lib_has_no_import_circle():
    edges = graph()
    assert "bench_lib.kvspec.protocol" in edges
    assert circles(edges) == []


def test_no_module_imports_up_into_a_case_module():
    assert upward_imports(graph()) == []


def test_the_checks_find_what_they_look_for(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "area").mkdir(parents=True)
    for f in ("__init__.py", "area/__init__.py"):
        (pkg / f).write_text("")
    (pkg / "area" / "cases.py").write_text("from pkg.area import backend\n")
    (pkg / "area" / "backend.py").write_text("def f():\n    from pkg.area.cases import g\n")
    (pkg / "area" / "cli.py").write_text("from pkg.area import cases\n")
    edges = graph(pkg)
    assert circles(edges) == [["pkg.area.backend", "pkg.area.cases"]]
    assert upward_imports(edges) == [("pkg.area.backend", "pkg.area.cases")]


def discovered_names() -> list[str]:
    from asv_runner.discovery import disc_benchmarks

    sys.path.insert(0, str(ROOT))
    try:
        return [b.name for b in disc_benchmarks(str(ROOT / "benchmarks"))]
    finally:
        sys.path.remove(str(ROOT))


def test_shared_declarations_are_not_benchmarks():
    names = discovered_names()
    assert any(n.startswith("bench_inference.ArcInference.track_") for n in names)
    assert [n for n in names if n.startswith("common.")] == []


def test_every_kvspec_backend_meets_the_protocol():
    import inspect

    import pytest

    from bench_lib.kvspec import registry

    def params(fn):
        return list(inspect.signature(fn).parameters)

    for engine in registry.KV_BACKENDS:
        backend = registry.kv_backend(engine)
        assert backend.KV_TYPES and isinstance(backend.REFERENCE, str)
        assert params(backend.grid) == ["models", "kv_types", "contexts"]
    for engine in registry.SPEC_BACKENDS:
        backend = registry.spec_backend(engine)
        assert backend.METHODS
        assert params(backend.make_runner) == ["model", "method", "prompts", "n_prompts"]
        assert params(backend.grid) == ["models", "methods", "tasks", "n_prompts"]
    with pytest.raises(NotImplementedError, match="hf, llamacpp, vllm"):
        registry.spec_backend("sglang")
