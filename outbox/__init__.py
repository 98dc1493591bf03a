"""outbox layer (see docs/architecture.md)."""
