"""Runtimes decide when things happen and how bytes move: `sim` (virtual clock) and `grpc` (real)."""
