"""The chanquan application: configuration, CLI, `serve` wiring and the demo.

This is the only package allowed to import every layer; the lower packages get
their settings passed in as plain values so they never depend on this one.
"""

__version__ = "0.1.0"
