"""Unit tests (a package, so its conftest never shadows the integration suite's)."""
