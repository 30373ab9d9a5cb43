# Two commands a reader needs: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export VQLAB_DATA ?= $(HOME)/.cache/vqlab
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: book test unit browser nbval student assignments lab data bench weights lock clean help

help:
	@echo "make book   - install, fetch MNIST, execute every chapter, write _build/html/index.html"
	@echo "make test   - install, unit tests, HTML build with warnings as errors, every chapter under nbval"
	@echo "make lab    - open the chapters in JupyterLab (MyST .md files open as notebooks)"
	@echo "make student - the student edition: no solutions, stubs for the coding tasks (_build/student/)"
	@echo "make assignments - the nbgrader course: one assignment per chapter 2-11 (_build/assignments/)"
	@echo "make bench  - per-chapter execution times, model load times, training benchmark"
	@echo "make weights - retrain every shipped model from scratch"

# JupyterLab settings of this venv only (not the user's): .md chapters open as notebooks
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings

$(STAMP): requirements.txt constraints.txt pyproject.toml tools/lab_overrides.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	mkdir -p $(LAB_SETTINGS) && cp tools/lab_overrides.json $(LAB_SETTINGS)/overrides.json
	touch $(STAMP)

data: $(STAMP)
	$(PY) -m vqlab.data

book: data
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html"

unit: data
	$(PY) -m pytest -q tests --ignore=tests/test_browser.py

# The built book in headless Chromium, offline (skips where Chromium is missing).
browser: book
	$(PY) -m pytest -q -rs -s tests/test_browser.py tests/test_pages.py

nbval: book
	$(PY) tools/nbval_chapters.py

test: data unit book browser nbval

# as root (containers) Jupyter refuses to start without --allow-root: pass it there
lab: data
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) book/

# Student edition: MyST sources, notebooks and HTML without solutions (tools/student.py);
# tests/test_student.py, part of `make unit`, checks the sources and runs their exercises.
student: data
	$(PY) tools/student.py

# nbgrader course (tools/assignments.py): nbgrader_config.py and source/<chapter>/<chapter>.ipynb
# under _build/assignments/, graded cells derived from the chapters' exercises; nbgrader itself
# releases, autogrades and returns feedback (README, "Teaching with this book");
# tests/test_nbgrader.py runs that cycle.
assignments: $(STAMP)
	$(PY) tools/assignments.py

bench: data
	$(PY) benchmarks/chapters.py
	$(PY) benchmarks/load_models.py
	$(PY) benchmarks/train_vqvae.py
	$(PY) benchmarks/photos.py
	$(PY) benchmarks/prior.py
	$(PY) benchmarks/widgets.py

weights: data
	$(PY) -m vqlab.train all

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt.new
	(echo "# Full pinned stack (pip freeze of a working install, Python 3.11). Regenerate with 'make lock'."; cat constraints.txt.new) > constraints.txt
	rm constraints.txt.new

clean:
	rm -rf _build
