"""The package's layers import downward only (pyproject's import-linter contract), there is no
import cycle anywhere (imports inside functions included), and docs/architecture.md shows the
contract's own layer map."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for m in sorted(edges):
        if m not in index:
            visit(m)
    return out


def test_no_import_cycle_anywhere_in_the_package():
    graph = grimp.build_graph("bayeslaws", cache_dir=None)
    assert len(graph.modules) > 40  # the whole package was read, function-level imports too
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclic_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")
    (pkg / "b.py").write_text("from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic_pkg", cache_dir=None)
    assert _cycles(graph) == [["cyclic_pkg.a", "cyclic_pkg.b"]]


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]')")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 kept, 0 broken" in done.stdout


def test_every_module_is_placed_in_a_layer():
    layers = _contract()["layers"]
    assert layers.get("exhaustive") is True
    placed = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    top = {p.stem for p in (ROOT / "bayeslaws").glob("*.py") if p.stem != "__init__"}
    top |= {p.parent.name for p in (ROOT / "bayeslaws").glob("*/__init__.py")}
    assert top == placed


def test_architecture_page_shows_the_contracts_layer_map():
    page = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"## Layer map.*?```text\n(.*?)```", page, re.S)
    assert block, "docs/architecture.md lost its ```text layer map"
    shown = [line.strip() for line in block.group(1).splitlines() if line.strip()]
    assert shown == _contract()["layers"]["layers"]
    # and the table of what each module owns names every placed module once
    owned = re.findall(r"^\|[^|]*\| `([a-z_]+)` \|", page, re.M)
    placed = [name.strip() for layer in shown for name in layer.split("|")]
    assert sorted(owned) == sorted(placed)


def test_a_laws_derived_quantity_is_a_method_of_its_fits_only():
    import bayeslaws as bl
    from bayeslaws.laws import capacity_gap

    assert bl.laws.CapacityGap.fit_methods["teacher_ranking"] is capacity_gap.teacher_ranking
    assert "optimal_teacher" not in bl.laws.Chinchilla.fit_methods
    assert not any(hasattr(bl.Fit, name) for name in ("optimal_teacher", "bits_per_param",
                                                      "density", "densing_trend"))
