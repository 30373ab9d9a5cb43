"""The nbgrader assignments (tools/assignments.py), without running nbgrader (that is
tests/test_nbgrader.py): their cells carry the right nbgrader metadata, they and the
student edition carry the same tasks and checks as the chapters, and the README's table
of points is the one the tool computes."""

import re
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import assignments  # noqa: E402
import student  # noqa: E402
from test_student import EXERCISE_CHAPTERS  # noqa: E402

STUB = re.compile(r"raise NotImplementedError\(")


@pytest.fixture(scope="module")
def course():
    return {a.name: a for a in assignments.assignments()}


def nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def test_every_chapter_with_a_coding_task_is_an_assignment(course):
    assert sorted(course) == sorted(EXERCISE_CHAPTERS)
    numbers = assignments.chapter_numbers()
    assert {numbers[name].split(".")[0] for name in course} == {
        str(n) for n in range(2, 12)
    }


@pytest.mark.parametrize("name", EXERCISE_CHAPTERS)
def test_cells_carry_nbgrader_metadata(course, name):
    a = course[name]
    cells = a.notebook.cells
    ids = [nbgrader(c)["grade_id"] for c in cells]
    assert all(nbgrader(c) for c in cells), (
        "every cell is an nbgrader cell (locked unless a task)"
    )
    assert len(set(ids)) == len(ids), "grade_ids are unique"
    assert all(re.fullmatch(r"[\w-]+", i) for i in ids)
    solutions = [c for c in cells if c.cell_type == "code" and nbgrader(c)["solution"]]
    tests = [c for c in cells if nbgrader(c)["grade"] and c.cell_type == "code"]
    answers = [
        c for c in cells if c.cell_type == "markdown" and nbgrader(c)["solution"]
    ]
    assert [nbgrader(c)["grade_id"] for c in solutions] == [
        f"task_{fn}" for fn, _ in a.tasks
    ]
    assert [nbgrader(c)["grade_id"] for c in tests] == [
        f"test_{fn}" for fn, _ in a.tasks
    ]
    for cell, (fn, check) in zip(tests, a.tasks):
        meta = nbgrader(cell)
        assert meta["locked"] and meta["points"] == assignments.POINTS["code"]
        assert (
            f"result = lab.{check}({fn})\nassert result.passed, result.message"
            in cell.source
        )
        hidden = cell.source.split(assignments.BEGIN_HIDDEN)[1].split(
            assignments.END_HIDDEN
        )[0]
        assert (
            f"lab.{check}({fn}, seed=seed)" in hidden
            and "assert hidden.passed" in hidden
        )
    for cell in solutions:
        assert (
            student.BEGIN in cell.source
            and student.END in cell.source
            and not nbgrader(cell)["locked"]
        )
    written = [e for e in a.exercises if e.kind != "code"]
    assert [nbgrader(c)["grade_id"] for c in answers] == [
        f"answer_{e.label.replace('-', '_')}" for e in written
    ]
    assert [nbgrader(c)["points"] for c in answers] == [
        assignments.POINTS[e.kind] for e in written
    ]
    assert all(nbgrader(c)["grade"] and c.source.strip() for c in answers), (
        "graded by hand, with the reference"
    )
    others = [c for c in cells if c not in solutions + tests + answers]
    assert all(
        nbgrader(c)["locked"]
        and not nbgrader(c)["grade"]
        and not nbgrader(c)["solution"]
        for c in others
    ), "prose and demonstrations are read-only"
    assert not any("{solution" in c.source for c in cells), (
        "no solution directive is left in the prose"
    )
    assert a.points["total"] == sum(nbgrader(c).get("points", 0) for c in cells)


def _tasks(cells, stubbed: bool):
    """(function, check) of each task cell in ``cells`` and of the check after it."""
    found = []
    for cell, after in zip(cells, cells[1:]):
        marked = STUB.search(cell.source) if stubbed else student.BEGIN in cell.source
        if cell.cell_type != "code" or not marked or "def " not in cell.source:
            continue
        fn = re.findall(r"^def (\w+)\(", cell.source, re.M)[-1]
        call = re.search(r"lab\.(check_\w+)\((\w+)\)", after.source)
        found.append((fn, call.group(1) if call and call.group(2) == fn else None))
    return found


@pytest.mark.parametrize("name", EXERCISE_CHAPTERS)
def test_student_edition_and_assignment_carry_the_same_tasks(course, name):
    """One source of truth: both editions derive from the chapter and must not drift."""
    text = (ROOT / "book" / f"{name}.md").read_text()
    student_text, _, reference = student.student_text(text)
    student_nb = jupytext.reads(student_text, fmt="md:myst")
    a = course[name]
    assert (
        _tasks(student_nb.cells, stubbed=True)
        == _tasks(a.notebook.cells, stubbed=False)
        == a.tasks
    )
    assert all(check for _, check in a.tasks)
    # the same reference code: what the student edition removed, nbgrader will remove
    code = [
        c.source.split(student.BEGIN)[1].split(student.END)[0]
        for c in a.notebook.cells
        if nbgrader(c).get("solution") and c.cell_type == "code"
    ]
    assert [re.sub(r"\s+", " ", c).strip() for c in code] == [
        re.sub(r"\s+", " ", r).strip() for r in reference
    ]
    # and the same chapter around them: every other code cell is the student edition's
    student_code = [
        c.source
        for c in student_nb.cells
        if c.cell_type == "code"
        and not STUB.search(c.source)
        and not re.match(r"lab\.check_", c.source.strip())
    ]
    assignment_code = [
        c.source
        for c in a.notebook.cells
        if c.cell_type == "code"
        and not nbgrader(c)["grade"]
        and not nbgrader(c)["solution"]
    ]
    assert assignment_code == student_code
    prose = " ".join(
        c.source
        for c in a.notebook.cells
        if c.cell_type == "markdown" and not nbgrader(c)["grade"]
    )
    student_prose = " ".join(
        c.source for c in student_nb.cells if c.cell_type == "markdown"
    )
    assert prose.split() == student_prose.split()


def test_exercise_kinds():
    text = """:::{exercise} Derive
:label: ex-a
Show it.
:::

:::{solution} ex-a
:class: dropdown
Because.
:::

:::{exercise} Predict
:label: ex-b
Guess, then run.
:::

```{code-cell} ipython3
print(1)
```

:::{solution} ex-b
:class: dropdown
One.
:::
"""
    assert [(e.label, e.kind) for e in assignments.exercises(text)] == [
        ("ex-a", "written"),
        ("ex-b", "predict"),
    ]
    with pytest.raises(ValueError, match="has no {solution}"):
        assignments.exercises(text.replace(":::{solution} ex-b", ":::{note}"))


def _chapter(tmp_path, body: str) -> Path:
    md = tmp_path / "book" / "ch.md"
    md.parent.mkdir(exist_ok=True)
    md.write_text(
        "---\nkernelspec:\n  display_name: Python 3\n  language: python\n"
        "  name: python3\n---\n\n"
        "# A chapter\n\n" + body
    )
    return md


TASK = '''```{code-cell} ipython3
def double(x):
    """Return twice x."""
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION
```
'''


def test_a_task_without_its_check_is_an_error(tmp_path):
    md = _chapter(tmp_path, TASK + "\nSome prose.\n")
    with pytest.raises(ValueError, match="no check cell|not followed by its check"):
        assignments.assignment(md)
    md = _chapter(
        tmp_path, TASK + "\n```{code-cell} ipython3\nlab.check_kl(other)\n```\n"
    )
    with pytest.raises(ValueError, match="runs 'other'"):
        assignments.assignment(md)


def test_cli_writes_the_course(tmp_path, capsys):
    assert assignments.main(["--out", str(tmp_path)]) == 0
    notebooks = sorted(
        p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("source/*/*.ipynb")
    )
    assert notebooks == sorted(f"source/{n}/{n}.ipynb" for n in EXERCISE_CHAPTERS)
    config = (tmp_path / "nbgrader_config.py").read_text()
    seen = {}

    class Config(dict):
        def __getattr__(self, key):
            return seen.setdefault(key, type("Section", (), {})())

    exec(compile(config, "nbgrader_config.py", "exec"), {"get_config": Config})
    assert seen["CourseDirectory"].course_id == assignments.COURSE_ID
    assert seen["Execute"].timeout >= 300
    assert "source/vqvae/vqvae.ipynb: 3 coding tasks" in capsys.readouterr().out


def test_readme_table_of_points_is_the_tools(course):
    readme = (ROOT / "README.md").read_text()
    table = assignments.points_table(list(course.values()))
    points = assignments.POINTS
    for words in (
        f"(`test_<function>`, {points['code']} points)",
        f"derivation {points['written']} points",
        f"question {points['predict']} point",
    ):
        assert words in re.sub(r"\s+", " ", readme), (
            f"README.md no longer says {words!r}"
        )
    assert table in readme, (
        "README.md's table of points per chapter (Teaching with this book) is out of "
        "date; replace it with:\n" + table
    )
