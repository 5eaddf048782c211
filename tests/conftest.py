"""Fixtures shared across the test tree."""

from __future__ import annotations

import contextlib
import resource

import pytest


@contextlib.contextmanager
def _file_size_limit(nbytes: int):
    """Make this process's writes past `nbytes` fail with a real EFBIG (Python ignores SIGXFSZ), as a
    full disk fails them with ENOSPC."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


@pytest.fixture
def file_size_limit():
    """A context manager: `with file_size_limit(256): ...` fails every write past 256 bytes."""
    return _file_size_limit
