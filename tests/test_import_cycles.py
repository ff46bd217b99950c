"""No import cycles between the modules of ``pipeline/`` (the layout's rule: data flows one way).

Static: every ``import`` / ``from ... import`` in every module, function-level
(lazy) imports included, is resolved to the ``pipeline`` modules it names; then
the strongly connected components of that graph must all be single modules. A
package's ``__init__`` importing its own sub-modules (to re-export them or to
register them) is not counted: that is how a package exposes its parts.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "pipeline"


def modules(root: Path = ROOT) -> dict[str, Path]:
    """``{"pipeline.data.vocab": path, "pipeline.data": path/__init__.py, ...}``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The ``pipeline`` modules ``name`` (at ``path``) imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{a.name}" for a in node.names]  # `from pkg import submodule`
        else:
            continue
        for target in targets:
            # `import pipeline.a.b` names pipeline.a.b; fall back to the longest known prefix (an attribute import)
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    if path.name == "__init__.py":  # a package importing its own parts is not a cycle
        found = {t for t in found if not t.startswith(name + ".")}
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def test_the_checker_finds_a_cycle_and_ignores_a_package_importing_its_parts(tmp_path):
    pkg = tmp_path / "pipeline"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pipeline.sub import a\n")
    (pkg / "sub" / "a.py").write_text("def f():\n    from . import b\n")  # lazy and relative
    (pkg / "sub" / "b.py").write_text("from pipeline.sub.a import f\n")
    (pkg / "c.py").write_text("import pipeline.sub\n")
    known = modules(pkg)
    graph = {n: imported(n, p, known) for n, p in known.items()}
    assert graph["pipeline.sub.a"] == {"pipeline.sub", "pipeline.sub.b"}  # `from . import b` loads the package too
    assert graph["pipeline.sub"] == set() and graph["pipeline.c"] == {"pipeline.sub"}
    assert strongly_connected(graph) == [["pipeline.sub.a", "pipeline.sub.b"]]


def test_pipeline_has_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 50, f"only {len(graph)} modules found under {ROOT}"
    cycles = strongly_connected(graph)
    lines = []
    for comp in cycles:
        edges = [f"{a} -> {b}" for a in comp for b in sorted(graph[a]) if b in comp]
        lines.append(f"cycle of {len(comp)}: " + "; ".join(edges))
    assert not cycles, ("import cycles (move the shared piece down, or the caller up):\n  "
                        + "\n  ".join(lines))
