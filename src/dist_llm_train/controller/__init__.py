"""MainController: builds a run from a RunConfig, runs it, writes the run directory."""
