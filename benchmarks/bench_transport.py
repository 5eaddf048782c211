"""gRPC transport vs a raw socket on loopback: `python benchmarks/bench_transport.py [--quick]`."""

import argparse
import sys

from dist_llm_train.runtime.grpc import benchmark

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=benchmark.__doc__.splitlines()[0])
    benchmark.add_arguments(parser)
    sys.exit(benchmark.run(parser.parse_args()))
