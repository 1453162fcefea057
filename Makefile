# Two commands on a fresh machine: `make run` and `make test`.
# Both install what they need (the bot's .venv, Rasa's .venv-rasa) and train
# the NLU model when config.yml or data/nlu changed.

SHELL := /bin/bash
VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: setup train run chat test lint eval bench cluster clean

# A TTF with Kazakh and Cyrillic glyphs for the Appendix 1 PDF (Debian package).
PDF_FONT_FILE := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

# Debian's Chromium for the agent console's browser test (Playwright drives it;
# never `playwright install`, which downloads a browser).
CHROMIUM := /usr/bin/chromium

# nginx in front of the webhook workers (deploy/nginx.conf; `make cluster` and
# its test). Debian's package; its service is not started (policy-rc.d).
NGINX := /usr/sbin/nginx

setup: $(VENV)/.installed $(RASA_VENV)/.installed $(PDF_FONT_FILE) $(CHROMIUM) $(NGINX)

$(NGINX):
	(apt-get install -y -q nginx-light || (apt-get update -q && apt-get install -y -q nginx-light)) || echo "no nginx: the cluster test is skipped outside CI"

$(CHROMIUM):
	(apt-get update -q && apt-get install -y -q chromium) || echo "no chromium: the console's browser test is skipped outside CI"

$(PDF_FONT_FILE):
	apt-get install -y -q fonts-dejavu-core || echo "no DejaVu font: set PDF_FONT=/path/font.ttf for application PDFs"

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $$(scripts/find-python.sh bot) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --upgrade pip
	$(PY) -m pip install $(PIP_QUIET) -e '.[dev]'
	@touch $@

$(RASA_VENV)/.installed: nlu/requirements-rasa.txt
	@test -x $(RASA_VENV)/bin/python || $$(scripts/find-python.sh rasa) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install $(PIP_QUIET) --upgrade pip
	$(RASA_VENV)/bin/python -m pip install $(PIP_QUIET) -r nlu/requirements-rasa.txt
	@touch $@

train: setup
	$(PY) -m nlu train
	$(PY) -m actions.units

run: train
	$(PY) -m bot

chat: train
	$(PY) -m bot chat

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy bot nlu actions knowledge storage

test: train lint
	$(VENV)/bin/pytest -q

# Two levels: the intent split (data/nlu-test), then whole conversations as
# citizens write them, answer by answer (data/eval/conversations).
eval: train
	$(PY) -m nlu evaluate data/nlu-test/*.yml --json build/eval.json \
		--min-accuracy 0.92 --min-translit 0.85 --min-language 0.97
	$(PY) -m bot.evaluate data/eval/conversations/*.yml --json build/eval-answers.json \
		--min-answer 0.90

bench: train
	$(PY) -m bench

# The production topology on one machine: nginx, 2 webhook workers, 2 Rasa
# servers, the machine's PostgreSQL and Redis (bot/cluster.py). Needs
# BOT_TOKEN; Ctrl-C stops it all.
cluster: train
	$(PY) -m bot.cluster

clean:
	rm -rf build models var .pytest_cache .mypy_cache .ruff_cache
