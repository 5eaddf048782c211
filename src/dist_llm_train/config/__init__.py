"""Run configuration: `load_config(path_or_dict, overrides)` -> validated `RunConfig`."""

from dist_llm_train.config.cross_checks import buffer_size, num_workers
from dist_llm_train.config.loader import PRESET_DIR, load_config, validate_dict
from dist_llm_train.config.schema import RunConfig
from dist_llm_train.errors import ConfigError

__all__ = ["RunConfig", "load_config", "validate_dict", "ConfigError", "PRESET_DIR", "num_workers", "buffer_size"]
