"""Print the executed notebook of every chapter in _toc.yml (for nbval), or fail if one is missing.

The HTML build executes each chapter once and keeps the executed notebook under
_build/jupyter_execute/; nbval then runs it again and compares the cells marked
``# NBVAL_CHECK_OUTPUT`` with that first run. Plain Markdown pages (no kernel) are skipped.
"""

import sys
from pathlib import Path

import nbformat
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


def coalesce_streams(path: Path) -> None:
    """Merge every stdout (and every stderr) output of a cell into its first one, as nbval
    does with the outputs of its own run, so a cell that prints twice compares equal."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        merged, first = [], {}
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name in first:
                first[out.name].text += out.text
                continue
            if out.output_type == "stream":
                first[out.name] = out
            merged.append(out)
        if "outputs" in cell:
            cell.outputs = merged
    nbformat.write(nb, path)


def main():
    missing, found = [], []
    for f in toc_files():
        if "kernelspec:" not in (ROOT / f"{f}.md").read_text():
            continue  # plain Markdown page (references, glossary): nothing to execute
        nb = ROOT / "_build" / "jupyter_execute" / f"{f}.ipynb"
        (found if nb.exists() else missing).append(nb)
    if missing:
        sys.exit("not executed by the book build: " + ", ".join(map(str, missing)))
    for nb in found:
        coalesce_streams(nb)
    print("\n".join(str(p.relative_to(ROOT)) for p in found))


if __name__ == "__main__":
    main()
