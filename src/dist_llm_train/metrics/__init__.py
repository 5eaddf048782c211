"""One event stream (JSONL) feeding sinks: Prometheus, TensorBoard/W&B/MLflow when installed, the report."""

from dist_llm_train.metrics.event_log import EventLog, read_events

__all__ = ["EventLog", "read_events"]
