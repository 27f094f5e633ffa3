"""Tests of issue 6: type-based error classification and retries (docs/retries.md)."""
