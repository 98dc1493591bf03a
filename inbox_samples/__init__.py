"""Example bundles, installed as the package `chanquan.inbox_samples` (see pyproject.toml).

This marker makes the folder package data, so that `chanquan demo` finds its samples in an installed
wheel as in a checkout. Written by scripts/make_samples.py, like everything here.
"""
