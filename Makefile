# Two commands do everything on a fresh machine:  `make demo`  and  `make test`.
PY      ?= .venv/bin/python
export PYOPENGL_PLATFORM ?= osmesa

.PHONY: env demo lint test test-fast clean-data
env:
	bash tools/setup_env.sh

# Offline quickstart: body model -> mocap poses -> long-tail dataset -> prototypes -> train PM-Net and HMR
# with an equal budget -> MeshMetric + PoseRarity -> report folder (outputs/quickstart/).
demo: env
	$(PY) tools/quickstart.py

# flake8 + isort with the settings of setup.cfg (as MMPose's pre-commit); yapf is configured there, not enforced
LINT_DIRS = pmnet_plugin tools tests configs
lint: env
	$(PY) -m flake8 $(LINT_DIRS)
	$(PY) -m isort --check-only --diff $(LINT_DIRS)

test: env lint
	$(PY) -m pytest -q tests

clean-data:
	rm -rf data/synthetic data/mocap data/prototypes outputs/quickstart

# the tests that neither train nor run a tool end to end (`slow` marker, setup.cfg); `make test` runs all
test-fast: env
	$(PY) -m pytest -q -m "not slow" tests
