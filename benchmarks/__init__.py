"""Benchmarks: how fast explanations and evaluations are, against the obvious alternatives (issue #8).

Run ``python -m benchmarks.run [--quick] [--out benchmarks/results]`` from the repo root; see
:mod:`benchmarks.run`. Every figure is measured on the project's own code (model/, dashboard/resources.py)
and reported as a ratio to one forward pass measured in the same run, so results compare across machines.
"""
