"""Test data shared by every test folder (importable because pyproject puts tests/ on pytest's path)."""
