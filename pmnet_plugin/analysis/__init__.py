"""Analysis code that only the tools use: timing and memory measurement (``tools/benchmark.py``), the
benchmark and quickstart report tables, the learning diagnostics (``tools/learning_diagnostics.py``), and
the head study's feature caches, label mixture and report (``tools/head_study.py``).

Importing :mod:`pmnet_plugin` does not import this package: nothing here is registered, and a model, a
dataset or the inference API never depends on it (as MMPose keeps such code in ``tools/analysis_tools/``).
"""
