"""validation layer (see docs/architecture.md)."""
