# Two commands on a fresh machine: `make run` and `make test`.
# Both install what they need (the bot's .venv, Rasa's .venv-rasa) and train
# the NLU model when config.yml or data/nlu changed.

SHELL := /bin/bash
VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: setup train run chat test lint eval bench clean

setup: $(VENV)/.installed $(RASA_VENV)/.installed

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

run: train
	$(PY) -m bot

chat: train
	$(PY) -m bot chat

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy bot nlu actions knowledge storage

test: train lint
	$(VENV)/bin/pytest -q

eval: train
	$(PY) -m nlu evaluate data/nlu-test/*.yml --json build/eval.json \
		--min-accuracy 0.92 --min-translit 0.85 --min-language 0.97

bench: train
	$(PY) -m bench

clean:
	rm -rf build models var .pytest_cache .mypy_cache .ruff_cache
