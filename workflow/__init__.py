"""workflow layer (see docs/architecture.md)."""
