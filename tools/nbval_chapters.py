"""Run nbval on the executed notebook of every chapter in _toc.yml; fail if one is missing.

The HTML build executes each chapter once and keeps the executed notebook under
_build/jupyter_execute/; nbval then runs it again and compares the cells tagged
``nbval-check-output`` (MyST: ``:tags: [nbval-check-output]`` under ``{code-cell}``) with that
first run; ``--nbval-lax`` leaves every other cell's output unchecked. Plain Markdown pages (no kernel) are skipped.
"""

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


def main(argv):
    missing, found = [], []
    for f in toc_files():
        if "kernelspec:" not in (ROOT / f"{f}.md").read_text():
            continue  # plain Markdown page (references, glossary): nothing to execute
        nb = ROOT / "_build" / "jupyter_execute" / f"{f}.ipynb"
        (found if nb.exists() else missing).append(nb)
    if missing:
        sys.exit("not executed by the book build (run `make book` after `make clean`): "
                 + ", ".join(map(str, missing)))
    sys.path.insert(0, str(Path(__file__).parent))  # for the nbval_myst plugin
    import pytest

    args = ["-q", "-p", "no:cacheprovider", "-p", "nbval_myst", "--nbval-lax", "--nbval-current-env",
            "--rootdir", str(ROOT), *argv, *map(str, found)]
    return pytest.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
