"""Mail templates, installed as the package `outbox.mail_templates` (pyproject.toml's package-dir).

The files stay here, in the design's top-level templates/ folder; the mapping makes them package
data, so an installed wheel finds them exactly as an editable checkout does (outbox/compose.py).
"""
