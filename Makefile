# Two commands a reader needs: `make book` and `make test` (see README.md).
# Every recipe is a step of tools/tasks.py, which also runs them without make (Windows:
# `py tools\tasks.py book`); make orders the steps, tasks.py --only runs one.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
TASK := $(PYTHON) tools/tasks.py --only
export VQLAB_DATA ?= $(HOME)/.cache/vqlab
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: book test lint unit browser nbval student lab data bench weights lock assignments clean help

help:
	@echo "make book   - install, fetch MNIST, execute every chapter, write _build/html/index.html"
	@echo "make test   - install, lint, unit tests, HTML build with warnings as errors, every chapter under nbval"
	@echo "make lab    - open the chapters in JupyterLab (MyST .md files open as notebooks)"
	@echo "make student - the student edition: no solutions, stubs for the coding tasks (_build/student/)"
	@echo "make assignments - the nbgrader course of the book (tools/assignments.py)"
	@echo "make bench  - per-chapter execution times, model load times, training benchmark"
	@echo "make weights - retrain every shipped model from scratch"
	@echo "make lock   - regenerate constraints.txt (every platform) from requirements.txt"
	@echo "Without make (Windows): python tools/tasks.py book|test|lab|..."

# venv, locked set, editable vqlab, kernel, the lab's settings (.md chapters open as notebooks)
$(STAMP): requirements.txt constraints.txt pyproject.toml tools/lab_overrides.json
	$(TASK) install --force

data: $(STAMP)
	$(TASK) data

book: data
	$(TASK) book

lint: $(STAMP)
	$(TASK) lint

unit: data
	$(TASK) unit

# The built book in headless Chromium, offline, and a chapter in JupyterLab (skip without Chromium).
browser: book
	$(TASK) browser

nbval: book
	$(TASK) nbval

test: data lint unit book browser nbval

lab: data
	$(TASK) lab

# Student edition: MyST sources, notebooks and HTML without solutions (tools/student.py);
# tests/test_student.py, part of `make unit`, checks the sources and runs their exercises.
student: data
	$(TASK) student

assignments: data
	$(TASK) assignments

bench: data
	$(TASK) bench

weights: data
	$(TASK) weights

lock:
	$(TASK) lock

clean:
	$(TASK) clean
