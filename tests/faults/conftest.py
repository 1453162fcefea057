"""The fault tests share the abuse tests' database fixtures."""

from tests.abuse.conftest import engine, sessions

__all__ = ["engine", "sessions"]
