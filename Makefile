# Two commands do everything on a fresh machine:  `make demo`  and  `make test`.
PY      ?= .venv/bin/python
export PYOPENGL_PLATFORM ?= osmesa

.PHONY: env demo test clean-data
env:
	bash tools/setup_env.sh

# Offline quickstart: body model -> mocap poses -> long-tail dataset -> prototypes -> train PM-Net and HMR
# with an equal budget -> MeshMetric + PoseRarity -> report folder (outputs/quickstart/).
demo: env
	$(PY) tools/quickstart.py

test: env
	$(PY) -m pytest -q tests

clean-data:
	rm -rf data/synthetic data/mocap data/prototypes outputs/quickstart
