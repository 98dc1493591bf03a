"""intake layer (see docs/architecture.md)."""
