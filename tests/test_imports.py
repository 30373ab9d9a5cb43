"""vqlab's modules import one way: the graph of their imports has no cycle.

Every ``import`` and ``from ... import`` in every module of ``lib/vqlab`` counts, also the
ones inside functions (a deferred import that closes a circle is still a circle: it only
hides it until the function runs). Also: loading shipped weights never imports training.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "lib" / "vqlab"


def module_name(path: Path) -> str:
    parts = ("vqlab",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The vqlab modules ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "vqlab")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "vqlab":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in known else target)
    out.discard(
        "vqlab"
    )  # the package's __init__ imports no vqlab module (checked below)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``edges`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_checker_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_vqlab_imports_run_one_way():
    edges = graph()
    assert "vqlab.pretrained" in edges and "vqlab.models.vqvae" in edges["vqlab.models"]
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_package_init_imports_no_vqlab_module():
    assert imports_of("vqlab", ROOT / "__init__.py", set(modules())) == set()


def test_models_never_import_loading_or_training():
    edges = graph()
    for name, targets in edges.items():
        if name.startswith("vqlab.models"):
            bad = targets & {
                "vqlab.pretrained",
                "vqlab.recipes",
                "vqlab.train",
                "vqlab.cards",
            }
            assert not bad, f"{name} imports {bad}"


def test_loading_weights_never_imports_training_code():
    code = (
        "import sys, vqlab.pretrained as p; p.load('vqvae_mnist'); "
        "print(sorted(m for m in sys.modules if m in ('vqlab.recipes', 'vqlab.train')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
