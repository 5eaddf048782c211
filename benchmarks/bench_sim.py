"""Simulator overhead and wall seconds per server step; see dist_llm_train.runtime.benchmark."""

import argparse

from dist_llm_train.runtime import benchmark

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=benchmark.__doc__)
    benchmark.add_arguments(parser)
    raise SystemExit(benchmark.run(parser.parse_args()))
