"""The student edition (tools/student.py): no solution survives, and the notebooks still run.

The chapters' bodies are the same in both editions (asserted here), so nbval of the instructor
edition covers them; this test executes what differs, every chapter's exercise section of the
student edition, in one kernel, and checks that each coding task stops at its stub: the check
after it reports "not implemented yet" with the task's sentence, and no other error occurs.
"""

import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import student  # noqa: E402

EXERCISES = "\n## Exercises\n"
# chapters 2-11 that must carry at least three exercises, each with a solution
EXERCISE_CHAPTERS = [
    "latent_spaces",
    "autoencoders",
    "vae",
    "kl_divergence",
    "elbo",
    "vqvae",
    "prior",
    "experiments_vae",
    "likelihood",
    "experiments_vqvae",
    "photos",
]
MIN_EXERCISES = 3


def _significant_lines(block: str, min_len: int) -> list[str]:
    """Lines of a removed block long enough to be recognised if they survived elsewhere."""
    lines = []
    for line in block.split("\n"):
        s = line.strip()
        if (
            len(s) >= min_len
            and not re.match(r"^(:{3,}|`{3,})", s)
            and not s.startswith(":")
        ):
            lines.append(s)
    return lines


def editions():
    for md in student.chapters():
        text = md.read_text()
        yield md.stem, text, student.student_text(text)


@pytest.mark.parametrize("name", EXERCISE_CHAPTERS)
def test_chapter_has_exercises_with_solutions(name):
    text = (ROOT / "book" / f"{name}.md").read_text()
    labels = re.findall(r"^:{3,}\{exercise\}.*\n:label: ([\w-]+)", text, re.M)
    solved = re.findall(r"^:{3,}\{solution\} ([\w-]+)", text, re.M)
    assert len(labels) >= MIN_EXERCISES, f"{name}: {len(labels)} exercises"
    assert sorted(labels) == sorted(solved), (
        f"{name}: exercises {labels}, solutions {solved}"
    )
    assert all(
        re.search(rf"^:{{3,}}\{{solution\}} {label}\n:class: dropdown$", text, re.M)
        for label in labels
    ), "solutions are collapsed (:class: dropdown)"


def test_no_solution_and_no_reference_code_survives():
    n_solutions = n_code = 0
    for name, text, (out, solutions, code) in editions():
        n_solutions += len(solutions)
        n_code += len(code)
        assert "{solution" not in out, name
        assert student.BEGIN not in out and student.END not in out, name
        for block in solutions:
            for line in _significant_lines(block, 30):
                assert line not in out, f"{name}: solution text survives: {line!r}"
        for block in code:
            for line in _significant_lines(block, 12):
                assert line not in out, f"{name}: reference code survives: {line!r}"
        assert out.count("raise NotImplementedError(") - text.count(
            "raise NotImplementedError("
        ) == len(code)
        # the body before the exercises is the instructor's, which nbval executes
        if EXERCISES in text:
            assert out.split(EXERCISES)[0] == text.split(EXERCISES)[0], name
    assert n_solutions >= MIN_EXERCISES * len(EXERCISE_CHAPTERS)
    assert n_code >= len(EXERCISE_CHAPTERS)


def test_stub_carries_the_task_sentence():
    text = '''```{code-cell} ipython3
def kl(mean, log_var):
    """Return the KL of each example."""
    # BEGIN SOLUTION
    return 0.5 * (mean ** 2).sum(axis=1)
    # END SOLUTION
```

:::{solution} ex-kl
:class: dropdown
Sum over axis 1.
:::
'''
    out, solutions, code = student.student_text(text)
    assert "    raise NotImplementedError('Return the KL of each example.')" in out
    assert "Sum over axis 1" not in out and "mean ** 2" not in out
    assert code == ["    return 0.5 * (mean ** 2).sum(axis=1)"] and len(solutions) == 1


@pytest.mark.parametrize(
    "broken", ["# BEGIN SOLUTION\nx = 1\n", ":::{solution} a\ntext\n"]
)
def test_unclosed_markers_are_an_error(broken):
    with pytest.raises(ValueError, match="never closed|without"):
        student.student_text(broken)


def test_student_notebooks_run_up_to_their_stubs(tmp_path):
    """Execute every chapter's student exercise section, in one kernel, in the book's order."""
    cells, owner = [], []
    for name, text, (out, _, code) in editions():
        if EXERCISES not in out or not code:
            continue
        section = jupytext.reads(
            "# Exercises\n" + out.split(EXERCISES, 1)[1], fmt="md:myst"
        )
        for cell in section.cells:
            if cell.cell_type == "code":
                cells.append(cell)
                owner.append(name)
    assert cells, "no exercise code to run"
    nb = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "name": "python3",
                "language": "python",
                "display_name": "Python 3",
            }
        },
    )
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(ROOT / "book")}},
    ).execute()
    stubs_reached = 0
    for cell, name in zip(nb.cells, owner):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, (
            f"{name}: {errors[0].ename}: {errors[0].evalue} in\n{cell.source}"
        )
        text = "".join(
            o.get("text", "") for o in cell.outputs if o.output_type == "stream"
        )
        if "lab.check_" in cell.source:
            assert text.startswith("FAIL check_") and "not implemented yet" in text, (
                f"{name}: {text!r}"
            )
            stubs_reached += 1
    assert stubs_reached >= len(EXERCISE_CHAPTERS)
