"""Parameter server, bounded-async coordinator, staleness policies and accounting."""

from dist_llm_train.sync.coordinator import Admission, BoundedAsyncCoordinator, FlushResult
from dist_llm_train.sync.parameter_server import ParameterServer, PullResult, SubmitResult
from dist_llm_train.sync.server_optimizer import ServerOptimizer

__all__ = [
    "ParameterServer", "BoundedAsyncCoordinator", "ServerOptimizer", "Admission", "FlushResult", "PullResult",
    "SubmitResult",
]
