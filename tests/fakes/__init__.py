"""Test doubles that speak real protocols (HTTP), for tests and benchmarks."""
