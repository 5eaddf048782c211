"""Exception types shared by every layer.

Each one carries a message meant for a person: what is wrong and how to fix it. Catching these
(and only these) at the CLI boundary lets the program print the message without a traceback,
while real bugs still surface with one.
"""


class DistLLMError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(DistLLMError, ValueError):
    """A run configuration (YAML file, --set override or Python dict) is invalid."""


class DecodeError(DistLLMError, ValueError):
    """Bytes received from the network (or a file) are not a valid encoded message."""


class PreconditionError(DistLLMError, ValueError):
    """An algorithm cannot give its guarantee for these arguments (for example Krum with n < 2f + 3)."""


class ResourceNotFoundError(DistLLMError, FileNotFoundError):
    """A model, tokenizer, corpus or checkpoint the run needs is not on this machine."""


class CheckpointError(DistLLMError):
    """A checkpoint could not be written (disk full, read-only, not a directory) or would hold a broken state."""


class RunFailed(DistLLMError):
    """A process of a real run (the parameter server, say) stopped on an error; the message holds its log's end."""


class Terminated(BaseException):
    """SIGTERM arrived (what `timeout`, `docker stop` and Kubernetes send): unwinds like Ctrl-C, so every
    `finally` and context manager on the way stops what it started; the CLI exits with 128 + signum.
    A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum
