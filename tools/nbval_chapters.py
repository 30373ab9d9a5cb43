"""Run nbval on the executed notebook of every chapter in _toc.yml; fail if one is missing.

The HTML build executes each chapter once, keeps its outputs in the jupyter-cache and the
notebook under _build/jupyter_execute/ (this script puts the cached outputs back into it);
nbval then runs it again and compares the cells tagged
``nbval-check-output`` (MyST: ``:tags: [nbval-check-output]`` under ``{code-cell}``) with that
first run; ``--nbval-lax`` leaves every other cell's output unchecked. Plain Markdown pages (no kernel) are skipped.
"""

import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def toc_files(toc_path=ROOT / "_toc.yml"):
    toc = yaml.safe_load(Path(toc_path).read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc.get("parts", toc.get("chapters", [])))
    return files


def with_cached_outputs(nb_path: Path, cache_path: Path) -> None:
    """Put the outputs of the book build's execution into ``nb_path``, in place.

    With ``execute_notebooks: cache`` myst-nb writes the notebook under jupyter_execute/
    without its outputs (they live in the jupyter-cache), and nbval, finding nothing stored
    to compare with, would pass every cell. Raises if the cache has no execution of it.
    """
    import nbformat
    from jupyter_cache import get_cache

    nb = nbformat.read(nb_path, as_version=4)
    if nb.metadata.get("mystnb", {}).get("execution_mode") == "inline":
        return  # executed in the build's own kernel ({eval} roles): its outputs are in nb_path
    try:
        _, merged = get_cache(cache_path).merge_match_into_notebook(nb)
    except KeyError as e:
        sys.exit(
            f"{nb_path}: no execution of it in the build's cache {cache_path} (run `make book`): {e}"
        )
    nbformat.write(merged, nb_path)


def main(argv):
    build = Path(os.environ.get("VQLAB_BUILD", ROOT / "_build"))
    missing, found = [], []
    for f in toc_files():
        if "kernelspec:" not in (ROOT / f"{f}.md").read_text():
            continue  # plain Markdown page (references, glossary): nothing to execute
        nb = build / "jupyter_execute" / f"{f}.ipynb"
        (found if nb.exists() else missing).append(nb)
    if missing:
        sys.exit(
            "not executed by the book build (run `make book` after `make clean`): "
            + ", ".join(map(str, missing))
        )
    for nb in found:
        with_cached_outputs(nb, build / ".jupyter_cache")
    sys.path.insert(0, str(Path(__file__).parent))  # for the nbval_myst plugin
    import pytest

    args = [
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "nbval_myst",
        "--nbval-lax",
        "--nbval-current-env",
        "--rootdir",
        str(ROOT),
        *argv,
        *map(str, found),
    ]
    return pytest.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
