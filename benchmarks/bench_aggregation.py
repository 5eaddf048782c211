"""Speed of the aggregation rules (see dist_llm_train.aggregation.benchmark); `--quick` for small d."""

import argparse
import sys

from dist_llm_train.aggregation import benchmark

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=benchmark.__doc__.splitlines()[0])
    benchmark.add_arguments(parser)
    sys.exit(benchmark.run(parser.parse_args()))
