"""Write the nbgrader course of the book: one assignment per chapter with a coding task.

    python tools/assignments.py [--out _build/assignments]

The chapters stay the only place a task is written; this tool, like the student
edition (``tools/student.py``, whose parser it uses), derives everything from
``book/*.md``. Under ``--out`` it writes an nbgrader course directory:

* ``nbgrader_config.py``: the course's configuration (cell timeout, stubs, course id);
* ``source/<chapter>/<chapter>.ipynb`` for each chapter with a coding task (chapters
  2-11), converted from its MyST source with jupytext, in which

  - each coding task's cell (``# BEGIN SOLUTION`` ... ``# END SOLUTION``) is an
    nbgrader solution cell, ``grade_id`` ``task_<function>``;
  - the check cell after it (``lab.check_x(function)``) is a locked autograded test
    cell, ``test_<function>``, worth ``POINTS["code"]``: it asserts that the check
    passes (the assertion's message is the check's hint) and, between
    ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, reruns the same check on
    the seeds ``HIDDEN_SEEDS``;
  - each written exercise (a derivation, or a "predict, then run" question with its
    demonstration cell) gets a manually graded answer cell where its ``solution``
    directive was, ``answer_<label>``, holding that solution as the grader's reference
    (nbgrader replaces it with "YOUR ANSWER HERE" in the released notebook);
  - every other cell (prose, demonstrations) is locked; no ``solution`` directive is
    left.

Release, collection, autograding and feedback are nbgrader's own commands (README,
"Teaching with this book"); ``tests/test_nbgrader.py`` runs that cycle.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import student  # noqa: E402  (tools/student.py: the one parser of the chapters' tasks)

ROOT = student.ROOT
COURSE_ID = "vqlab"
POINTS = {
    "code": 3,
    "written": 2,
    "predict": 1,
}  # per coding task / derivation / prediction
HIDDEN_SEEDS = (1001, 1002, 1003)
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
EXERCISE = re.compile(
    r"^(?P<fence>:{3,})\{exercise\}(?P<title>.*)\n:label: (?P<label>[\w-]+)", re.M
)
SOLUTION_HEAD = re.compile(r"^(:{3,}|`{3,})\{solution\} (?P<label>[\w-]+)")
CHECK_CALL = re.compile(r"^lab\.(?P<check>check_\w+)\((?P<fn>\w+)\)$")
DEF = re.compile(r"^def (\w+)\(", re.M)
CELL_TIMEOUT_S = (
    600  # nbgrader's default is 30 s a cell; a chapter's slowest cell can take longer
)

CONFIG = '''"""nbgrader configuration of the vqlab course (by tools/assignments.py)."""

c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = "{course_id}"
# Autograding executes the whole chapter: a cell may take longer than nbgrader's 30 s.
c.Execute.timeout = {timeout}
# A coding task's stub in the released notebook (its check says "not implemented yet").
c.ClearSolutions.code_stub = {{
    "python": "# YOUR CODE HERE\\nraise NotImplementedError()"
}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# On a hub, the exchange directory is shared by everyone (nbgrader's default):
# c.Exchange.root = "/srv/nbgrader/exchange"
'''


@dataclass
class Exercise:
    label: str
    title: str
    kind: str  # "code", "written" or "predict"


@dataclass
class Assignment:
    """One chapter's assignment: its notebook and what it grades."""

    name: str
    notebook: object  # nbformat.NotebookNode
    exercises: list[Exercise] = field(default_factory=list)
    tasks: list[tuple[str, str]] = field(default_factory=list)  # (function, check)

    @property
    def points(self) -> dict[str, int]:
        code = POINTS["code"] * len(self.tasks)
        manual = sum(POINTS[e.kind] for e in self.exercises if e.kind != "code")
        return {"autograded": code, "manual": manual, "total": code + manual}


def exercises(text: str) -> list[Exercise]:
    """The chapter's exercises in order, each classified by what lies between the
    exercise and its solution: reference code (a coding task), a code cell (a
    "predict, then run" question) or nothing (a written answer)."""
    found = []
    for m in EXERCISE.finditer(text):
        label = m.group("label")
        sol = re.search(
            rf"^(:{{3,}}|`{{3,}})\{{solution\}} {re.escape(label)}\s*$",
            text[m.end() :],
            re.M,
        )
        if sol is None:
            raise ValueError(
                f"exercise {label!r} has no {{solution}} directive: an assignment "
                f"its reference answer"
            )
        between = text[m.end() : m.end() + sol.start()]
        kind = (
            "code"
            if student.BEGIN in between
            else "predict"
            if "```{code-cell}" in between
            else "written"
        )
        found.append(Exercise(label, m.group("title").strip(), kind))
    return found


def _answer_cell(block: str, kinds: dict[str, str]) -> str:
    """The answer cell (MyST) that takes the place of the solution ``block``."""
    head = SOLUTION_HEAD.match(block.split("\n")[0].strip())
    label = head.group("label") if head else None
    if label is None or kinds.get(label, "code") == "code":
        return ""  # a coding task's explanation: graded by its test, not by hand
    body = block.split("\n")[1:-1]
    while body and (body[0].startswith(":") or not body[0].strip()):
        body = body[1:]  # the directive's options (:class: dropdown) and blank lines
    meta = {
        "nbgrader": {
            "grade": True,
            "solution": True,
            "locked": False,
            "points": POINTS[kinds[label]],
            "grade_id": f"answer_{label.replace('-', '_')}",
            "schema_version": 3,
        }
    }
    return f"+++ {json.dumps(meta)}\n\n" + "\n".join(body).strip() + "\n\n+++"


def grading_source(check: str, fn: str) -> str:
    """The autograded test cell of a task: the book's check, then the hidden reruns."""
    return "\n".join(
        [
            "from vqlab import lab",
            "",
            f"result = lab.{check}({fn})",
            "assert result.passed, result.message",
            BEGIN_HIDDEN,
            f"for seed in {HIDDEN_SEEDS!r}:",
            f"    hidden = lab.{check}({fn}, seed=seed)",
            '    assert hidden.passed, f"other inputs (seed {seed}): {hidden.message}"',
            END_HIDDEN,
        ]
    )


def _meta(
    grade_id: str, *, grade=False, solution=False, locked=True, points=None
) -> dict:
    meta = {
        "grade": grade,
        "solution": solution,
        "locked": locked,
        "grade_id": grade_id,
        "schema_version": 3,
    }
    if points is not None:
        meta["points"] = points
    return meta


def assignment(md: Path) -> Assignment:
    """The nbgrader source notebook of the chapter ``md``."""
    import jupytext

    text = md.read_text()
    found = exercises(text)
    kinds = {e.label: e.kind for e in found}
    text, _ = student.remove_solutions(
        text, replace=lambda block: _answer_cell(block, kinds)
    )
    nb = jupytext.reads(text, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    nb.cells = [c for c in nb.cells if c.source.strip() or c.cell_type == "code"]
    result = Assignment(md.stem, nb, found)
    pending = None  # the function of the last solution cell, until its check cell
    for i, cell in enumerate(nb.cells):
        if "nbgrader" in cell.metadata:  # an answer cell made above
            continue
        if cell.cell_type == "code" and student.BEGIN in cell.source:
            names = DEF.findall(cell.source)
            if pending or not names:
                raise ValueError(
                    f"{md.name}: a coding task's cell must define its function and be "
                    f"followed by its check cell:\n{cell.source}"
                )
            pending = names[-1]
            cell.metadata["nbgrader"] = _meta(
                f"task_{pending}", solution=True, locked=False
            )
            continue
        call = (
            CHECK_CALL.match(cell.source.strip()) if cell.cell_type == "code" else None
        )
        if pending and call:
            if call.group("fn") != pending:
                raise ValueError(
                    f"{md.name}: the check after task {pending!r} runs "
                    f"{call.group('fn')!r}"
                )
            cell.source = grading_source(call.group("check"), pending)
            cell.metadata["nbgrader"] = _meta(
                f"test_{pending}", grade=True, points=POINTS["code"]
            )
            result.tasks.append((pending, call.group("check")))
            pending = None
            continue
        if pending:
            raise ValueError(
                f"{md.name}: task {pending!r} is not followed by its check cell "
                f"(lab.check_...({pending})), but by:\n{cell.source}"
            )
        cell.metadata["nbgrader"] = _meta(f"{md.stem}_cell_{i}")
    if pending:
        raise ValueError(f"{md.name}: task {pending!r} has no check cell after it")
    n_code = sum(e.kind == "code" for e in found)
    if n_code != len(result.tasks):
        raise ValueError(
            f"{md.name}: {n_code} coding exercises but {len(result.tasks)} tasks "
            "with checks"
        )
    return result


def chapter_numbers(root: Path = ROOT) -> dict[str, str]:
    """Each page's number in the book ("3", "9.1"), from _toc.yml's numbered parts."""
    import yaml

    toc, numbers, n = yaml.safe_load((root / "_toc.yml").read_text()), {}, 0
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            if not part.get("numbered"):
                continue
            n += 1
            numbers[Path(chapter["file"]).name] = str(n)
            for k, section in enumerate(chapter.get("sections", []), 1):
                numbers[Path(section["file"]).name] = f"{n}.{k}"
    return numbers


def assignments(root: Path = ROOT) -> list[Assignment]:
    """Every chapter with a coding task, in the book's order."""
    numbers = chapter_numbers(root)
    found = [
        assignment(md)
        for md in student.chapters(root)
        if student.BEGIN in md.read_text()
    ]
    return sorted(
        found, key=lambda a: [int(p) for p in numbers.get(a.name, "999").split(".")]
    )


def points_table(found: list[Assignment], root: Path = ROOT) -> str:
    """The table of points per chapter in the README (tests/test_assignments.py)."""
    numbers = chapter_numbers(root)
    rows = [
        "| chapter | assignment | coding tasks | autograded points | written answers "
        "| points graded by hand | total |",
        "|---|---|---|---|---|---|---|",
    ]
    totals = [0, 0, 0, 0, 0]
    for a in found:
        p = a.points
        row = [
            len(a.tasks),
            p["autograded"],
            len(a.exercises) - len(a.tasks),
            p["manual"],
            p["total"],
        ]
        rows.append(
            f"| {numbers.get(a.name, '')} | `{a.name}` | "
            + " | ".join(map(str, row))
            + " |"
        )
        totals = [t + r for t, r in zip(totals, row)]
    rows.append(
        f"| **all** | {len(found)} assignments | "
        + " | ".join(map(str, totals[:-1]))
        + f" | **{totals[-1]}** |"
    )
    return "\n".join(rows)


def write_course(out: Path, root: Path = ROOT) -> list[Assignment]:
    """Write the nbgrader course (config and source notebooks) under ``out``."""
    import nbformat

    found = assignments(root)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(
        CONFIG.format(course_id=COURSE_ID, timeout=CELL_TIMEOUT_S)
    )
    for a in found:
        folder = out / "source" / a.name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(a.notebook, folder / f"{a.name}.ipynb")
    return found


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "_build" / "assignments",
        help="the nbgrader course directory to write (default: _build/assignments)",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    found = write_course(out)
    for a in found:
        p = a.points
        n_code, n_written = len(a.tasks), len(a.exercises) - len(a.tasks)
        print(
            f"source/{a.name}/{a.name}.ipynb: {_count(n_code, 'coding task')} "
            f"({p['autograded']} points, autograded), "
            f"{_count(n_written, 'written answer')} ({p['manual']} points)"
        )
    print(
        f"nbgrader course: {out} (nbgrader_config.py and source/); next, in that "
        "directory: nbgrader generate_assignment <chapter>"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
