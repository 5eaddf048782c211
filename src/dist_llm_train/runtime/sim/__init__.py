"""The discrete-event simulator: real gradients, simulated time."""

from dist_llm_train.runtime.sim.simulator import SimResult, Simulator

__all__ = ["Simulator", "SimResult"]
