"""Build the student edition of the book: no solutions, and stubs where the reference code was.

    python tools/student.py [--out _build/student] [--no-html]

The instructor edition (``make book``) shows every exercise's solution, collapsed, and the
reference implementation of each coding task. The student edition removes

* every ``solution`` directive (sphinx-exercise; MyST colon or backtick fences), and
* the reference code of each coding task: the lines of a code cell between the markers
  ``# BEGIN SOLUTION`` and ``# END SOLUTION`` become ``raise NotImplementedError(task)``,
  where ``task`` is the first line of the enclosing function's docstring. The check cell
  after it then reports the task as not implemented yet (``vqlab.lab``).

It writes, under ``--out``:

* ``book/*.md``: the MyST sources, with ``_config.yml``, ``_toc.yml`` and ``_static/`` beside them;
* ``notebooks/*.ipynb``: the same chapters as notebooks to hand out (no outputs);
* ``_build/html/``: the student edition's HTML (executed, so every figure is there),
  unless ``--no-html``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
FENCE = re.compile(r"^(?P<fence>:{3,}|`{3,})\{(?P<name>[\w-]+)\}")
DEFAULT_TASK = "write this code (see the exercise above), then run the check below"
# copied beside the chapters so that the student edition builds with the book's configuration
SUPPORT = ["_config.yml", "_toc.yml", "_static", "tools"]


def _directive_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the directive opened at ``lines[start]`` with ``fence``."""
    depth = 0
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        m = FENCE.match(stripped)
        if m and m.group("fence") == fence:
            depth += 1  # a nested directive with the same fence (rare; closed first)
        elif stripped == fence:
            if depth == 0:
                return i
            depth -= 1
    raise ValueError(
        f"the {{solution}} directive opened at line {start + 1} is never closed with {fence!r}"
    )


def remove_solutions(text: str, replace=None) -> tuple[str, list[str]]:
    """``text`` without its ``solution`` directives (and ``solution-start`` ... ``solution-end``
    blocks), and the list of the removed blocks.

    ``replace(block)``, if given, returns the text that takes each removed block's place
    (the nbgrader assignments put a graded answer cell there); None or "" leaves nothing.
    """
    lines = text.split("\n")
    out, removed, i = [], [], 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if m and m.group("name") == "solution":
            end = _directive_end(lines, i, m.group("fence"))
        elif m and m.group("name") == "solution-start":
            end = next(
                (
                    j
                    for j in range(i + 1, len(lines))
                    if re.match(r"^(:{3,}|`{3,})\{solution-end\}", lines[j].strip())
                ),
                None,
            )
            if end is None:
                raise ValueError(
                    f"the {{solution-start}} at line {i + 1} has no {{solution-end}}"
                )
            end = _directive_end(
                lines, end, FENCE.match(lines[end].strip()).group("fence")
            )
        else:
            out.append(lines[i])
            i += 1
            continue
        removed.append("\n".join(lines[i : end + 1]))
        if replace is not None and (replacement := replace(removed[-1])):
            out.extend(replacement.split("\n"))
        i = end + 1
        while (
            out and out[-1].strip() == "" and i < len(lines) and lines[i].strip() == ""
        ):
            i += 1  # no double blank line where a solution was
    return "\n".join(out), removed


def _task(lines: list[str], marker: int) -> str:
    """The first docstring line of the function that holds the marker at ``lines[marker]``."""
    for j in range(marker - 1, -1, -1):
        if re.match(r"\s*def \w+", lines[j]):
            doc = lines[j + 1].strip() if j + 1 < len(lines) else ""
            m = re.match(r'[rbuf]*("""|\'\'\')(.*?)(\1)?$', doc)
            if m and m.group(2).strip():
                return m.group(2).strip()
            break
    return DEFAULT_TASK


def stub_reference_code(text: str) -> tuple[str, list[str]]:
    """``text`` with each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block replaced by a stub
    raising ``NotImplementedError(task)``, and the list of the removed code blocks."""
    lines = text.split("\n")
    out, removed, i = [], [], 0
    while i < len(lines):
        if lines[i].strip() != BEGIN:
            if END in lines[i] or BEGIN in lines[i]:
                raise ValueError(
                    f"line {i + 1}: the markers stand alone on their line: {lines[i]!r}"
                )
            out.append(lines[i])
            i += 1
            continue
        end = next(
            (j for j in range(i + 1, len(lines)) if lines[j].strip() == END), None
        )
        if end is None:
            raise ValueError(f"line {i + 1}: {BEGIN} without {END}")
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        out.append(f"{indent}raise NotImplementedError({_task(lines, i)!r})")
        removed.append("\n".join(lines[i + 1 : end]))
        i = end + 1
    return "\n".join(out), removed


def student_text(text: str) -> tuple[str, list[str], list[str]]:
    """A chapter's student edition: (text, removed solutions, removed reference code)."""
    text, solutions = remove_solutions(text)
    text, code = stub_reference_code(text)
    return text, solutions, code


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "book").glob("*.md"))


def write_sources(
    out: Path, root: Path = ROOT
) -> dict[str, tuple[list[str], list[str]]]:
    """Write the student MyST sources and notebooks under ``out``; return what each chapter lost."""
    import jupytext

    lost = {}
    (out / "book").mkdir(parents=True, exist_ok=True)
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    for name in SUPPORT:
        src, dst = root / name, out / name
        if src.is_dir():
            shutil.copytree(
                src,
                dst,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        elif src.exists():
            shutil.copy2(src, dst)
    for f in (root / "book").iterdir():
        if f.suffix != ".md" and f.is_file():
            shutil.copy2(
                f, out / "book" / f.name
            )  # references.bib and anything else a page reads
    for md in chapters(root):
        text, solutions, code = student_text(md.read_text())
        (out / "book" / md.name).write_text(text)
        lost[md.stem] = (solutions, code)
        if "kernelspec:" in text:
            jupytext.write(
                jupytext.reads(text, fmt="md:myst"),
                out / "notebooks" / f"{md.stem}.ipynb",
            )
    return lost


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    parser.add_argument(
        "--no-html", action="store_true", help="write the sources and notebooks only"
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    lost = write_sources(out)
    n_solutions = sum(len(s) for s, _ in lost.values())
    n_code = sum(len(c) for _, c in lost.values())
    print(
        f"student sources: {out / 'book'} ({n_solutions} solutions removed, {n_code} reference "
        f"implementations replaced by stubs); notebooks: {out / 'notebooks'}"
    )
    if args.no_html:
        return 0
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jb), "build", str(out), "-W", "-n", "--keep-going"], cwd=out
    )
    if result.returncode == 0:
        print(f"student edition: {out / '_build' / 'html' / 'index.html'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
