"""Worker logic: local steps, clipping, attacks, compression; no processes or sockets."""

from dist_llm_train.worker.worker_logic import UpdateMessage, WorkerLogic

__all__ = ["WorkerLogic", "UpdateMessage"]
