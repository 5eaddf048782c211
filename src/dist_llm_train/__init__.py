"""dist_llm_train: train language models across heterogeneous, far-apart, partly untrusted machines.

Layers (see DESIGN.md): config -> controller -> runtime (sim | grpc) -> sync (parameter server,
bounded-async coordinator) -> aggregation / privacy, fed by worker logic that uses compression,
attacks, models, data, eval, network and metrics. The algorithm core never touches sockets or clocks.
"""

__version__ = "0.1.0"
