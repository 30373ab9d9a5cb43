"""How long each chapter takes to execute (goal: under 30 s each on a laptop CPU).

Each chapter of _toc.yml runs in a fresh kernel, as the book build runs it. The baseline,
run in the same session, is a notebook that only starts a kernel, imports vqlab and
TensorFlow and loads one shipped model: the floor under every chapter on this machine,
so the ratio says how much work a chapter adds to it. Noisy machines: compare ratios.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 30.0
BASELINE = "import vqlab\nfrom vqlab import pretrained\npretrained.load('vqvae_mnist')"

sys.path.insert(0, str(ROOT / "tools"))
from nbval_chapters import toc_files  # noqa: E402


def run(nb) -> float:
    t = time.perf_counter()
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "book")}},
    ).execute()
    return time.perf_counter() - t


def main(argv):
    chapters = [
        f for f in toc_files() if "kernelspec:" in (ROOT / f"{f}.md").read_text()
    ]
    if argv:
        chapters = [f for f in chapters if Path(f).name in argv]
    baseline = run(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(BASELINE)])
    )
    print(f"{'chapter':28s} {'seconds':>8s} {'x baseline':>11s}")
    print(f"{'(baseline: import + load)':28s} {baseline:8.1f} {1.0:11.2f}")
    total, slow = 0.0, []
    for f in chapters:
        seconds = run(jupytext.read(ROOT / f"{f}.md"))
        total += seconds
        slow += [f] if seconds > GOAL_S else []
        print(
            f"{Path(f).name:28s} {seconds:8.1f} {seconds / baseline:11.2f}", flush=True
        )
    print(f"{'all chapters':28s} {total:8.1f}")
    print(f"over the {GOAL_S:.0f} s goal: {', '.join(slow) or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1:])
