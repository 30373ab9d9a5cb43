"""The instructor's cycle, run by nbgrader itself on the generated course
(tools/assignments.py) in a temporary course directory: generate_assignment, then
autograde of three kinds of submission, then generate_feedback.

* ``instructor``: the released notebook with the reference code and the reference
  answers filled in, as a student who wrote them would hand it in: every autograded
  point is earned.
* ``stubs``: the released notebook untouched: no point at all.
* ``mistake``: the reference with one typical mistake in one task (a missing
  stop-gradient in chapter 7's straight-through estimator; the variance exp(log_var)
  used as the standard deviation in chapter 4's reparameterization): that task's points
  are lost, the others kept, and the check's hint is in the HTML feedback.

nbgrader executes each submission in full, chapter and all: the instructor's submission
of every chapter (the cycle must work on each), the stubs of two chapters (``STUBS``;
that every check fails on its stub is tested for every chapter by tests/test_student.py)
and the two mistakes. This takes minutes (the README gives the time); set
VQLAB_NBGRADER_CHAPTERS=vae,vqvae (comma-separated assignment names) to run a subset
while working on it.
"""

import html
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytest.importorskip(
    "nbgrader",
    reason="nbgrader is not installed: pip install -r requirements.txt "
    "-c constraints.txt (it pins nbgrader) to run the grading cycle",
)
from nbgrader.api import Gradebook  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import assignments  # noqa: E402

MISTAKES = {  # chapter: (task, its wrong reference code, words of the check's hint)
    "vqvae": (
        "straight_through",
        "    return z_e + (z_q - z_e)",
        ["a missing stop-gradient", "none reaches the encoder"],
    ),
    "vae": (
        "reparameterize",
        "    return mean + ops.exp(log_var) * eps",
        ["the variance where the standard deviation was meant"],
    ),
}

# chapters whose released notebook is also autograded as handed out (two suffice:
# tests/test_student.py runs every chapter's stubs and asserts that each check fails)
STUBS = ("kl_divergence", "elbo")


def _chapters():
    names = [a.name for a in assignments.assignments()]
    wanted = os.environ.get("VQLAB_NBGRADER_CHAPTERS")
    if wanted:
        unknown = set(wanted.split(",")) - set(names)
        assert not unknown, (
            f"VQLAB_NBGRADER_CHAPTERS names no assignment: {sorted(unknown)}; "
            f"choose from {names}"
        )
        names = [n for n in names if n in wanted.split(",")]
    return names


def _nbgrader(course: Path, *args):
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs alembic from PATH
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "lib"), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout + result.stderr


def _grade_cells(nb):
    return {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def _submit(course: Path, student: str, name: str, nb):
    folder = course / "submitted" / student / name
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")


def _fill(released: str, code: str) -> str:
    """A released task cell with its stub replaced by ``code``, as a student writes."""
    lines = released.split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip() == "# YOUR CODE HERE")
    assert lines[at + 1].strip() == "raise NotImplementedError()", released
    return "\n".join(lines[:at] + [code.rstrip("\n")] + lines[at + 2 :])


def _reference_code(source: str) -> str:
    student = assignments.student
    return source.split(student.BEGIN + "\n", 1)[1].split(student.END)[0]


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    """Generate, release, submit, autograde and give feedback once for the module."""
    course = tmp_path_factory.mktemp("course")
    names = _chapters()
    found = {a.name: a for a in assignments.write_course(course) if a.name in names}
    submitted = {}
    for name in names:
        _nbgrader(course, "generate_assignment", name, "--force")
        release = nbformat.read(
            course / "release" / name / f"{name}.ipynb", as_version=4
        )
        source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
        reference = _grade_cells(source)
        instructor = nbformat.from_dict(release)
        for grade_id, cell in _grade_cells(
            instructor
        ).items():  # the reference code and answers
            ref = reference[grade_id].source
            cell.source = (
                _fill(cell.source, _reference_code(ref))
                if cell.cell_type == "code"
                else ref
            )
        _submit(course, "instructor", name, instructor)
        submitted[name] = ["instructor"]
        if name in MISTAKES:
            task, wrong, _ = MISTAKES[name]
            mistake = nbformat.from_dict(instructor)
            _grade_cells(mistake)[f"task_{task}"].source = _fill(
                _grade_cells(release)[f"task_{task}"].source, wrong
            )
            _submit(course, "mistake", name, mistake)
            submitted[name].append("mistake")
        if name in STUBS:
            _submit(course, "stubs", name, release)
            submitted[name].append("stubs")
        start = time.perf_counter()
        _nbgrader(course, "autograde", name, "--create")
        _nbgrader(course, "generate_feedback", name)
        print(
            f"{name}: autograde of {', '.join(submitted[name])} and feedback in "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
    return course, found, submitted


def test_release_has_no_solution_and_no_hidden_test(cycle):
    course, found, _ = cycle
    for name, a in found.items():
        release = nbformat.read(
            course / "release" / name / f"{name}.ipynb", as_version=4
        )
        text = "\n".join(c.source for c in release.cells)
        for marker in (
            "BEGIN SOLUTION",
            "END SOLUTION",
            "HIDDEN TESTS",
            "seed=seed",
            "{solution",
        ):
            assert marker not in text, f"{name}: {marker!r} in the released notebook"
        source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
        for grade_id, cell in _grade_cells(source).items():
            for line in cell.source.split("\n"):
                if (
                    len(line.strip()) >= 20
                    and "def " not in line
                    and "import" not in line
                    and '"""' not in line
                ):
                    assert line.strip() not in text, (
                        f"{name}: {grade_id}'s reference survives: {line!r}"
                    )
        stubs = [
            c.source for c in release.cells if c.metadata["nbgrader"].get("solution")
        ]
        assert sum("raise NotImplementedError()" in s for s in stubs) == len(a.tasks)
        assert sum(s.strip() == "YOUR ANSWER HERE" for s in stubs) == len(
            a.exercises
        ) - len(a.tasks)
        for fn, check in a.tasks:
            assert f"result = lab.{check}({fn})" in text, (
                "the visible test stays for the student to run"
            )


def _scores(course: Path, student: str, name: str):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(name, name, student)
        grades = {g.name: (g.score, g.max_score) for g in nb.grades}
        return nb.code_score, nb.max_code_score, grades


def test_instructor_gets_every_autograded_point(cycle):
    course, found, _ = cycle
    for name, a in found.items():
        code, max_code, grades = _scores(course, "instructor", name)
        assert max_code == a.points["autograded"] > 0, name
        assert code == max_code, f"{name}: {grades}"
        total = sum(m for _, m in grades.values())
        assert total == a.points["total"], (
            f"{name}: nbgrader counts {total} points, the tool {a.points}"
        )


def test_stubs_get_nothing(cycle):
    course, found, submitted = cycle
    cases = [n for n, students in submitted.items() if "stubs" in students]
    if not cases:
        pytest.skip(
            "VQLAB_NBGRADER_CHAPTERS leaves out the chapters whose stubs are graded "
            f"({STUBS})"
        )
    for name in cases:
        code, max_code, grades = _scores(course, "stubs", name)
        assert max_code > 0 and code == 0, f"{name}: {grades}"
        assert all(score == 0 for score, _ in grades.values()), f"{name}: {grades}"


def _feedback(course: Path, student: str, name: str) -> str:
    path = course / "feedback" / student / name / f"{name}.html"
    assert path.exists(), f"no feedback at {path}"
    return html.unescape(path.read_text())


def test_a_typical_mistake_loses_that_tasks_points_with_its_hint(cycle):
    course, found, submitted = cycle
    cases = [n for n, students in submitted.items() if "mistake" in students]
    if not cases:
        pytest.skip(
            "VQLAB_NBGRADER_CHAPTERS leaves out the chapters with a mistake case "
            f"({sorted(MISTAKES)})"
        )
    for name in cases:
        task, _, words = MISTAKES[name]
        code, max_code, grades = _scores(course, "mistake", name)
        assert grades[f"test_{task}"][0] == 0, f"{name}: {grades}"
        others = {
            k: v
            for k, v in grades.items()
            if k.startswith("test_") and k != f"test_{task}"
        }
        assert all(score == m for score, m in others.values()), f"{name}: {grades}"
        assert code == max_code - assignments.POINTS["code"], f"{name}: {grades}"
        feedback = _feedback(course, "mistake", name)
        for word in words:
            assert word in feedback, f"{name}: the hint {word!r} is not in the feedback"
        assert "AssertionError" in feedback
    if "vqvae" in cases:
        code, max_code, _ = _scores(course, "mistake", "vqvae")
        assert 0 < code < max_code, "partial marks"


def test_feedback_is_html_for_every_submission(cycle):
    course, found, submitted = cycle
    for name, students in submitted.items():
        for student in students:
            text = _feedback(course, student, name)
            assert (
                text.lstrip().lower().startswith("<!doctype html")
                and "</html>" in text.lower()
            )
            with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
                nb = gb.find_submission_notebook(name, name, student)
                score, max_score = nb.score, nb.max_score
            assert f"Score: {score:.1f} / {max_score:.1f}" in text, (
                f"{name}, {student}: no total score"
            )
