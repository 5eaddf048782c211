"""Quality of the aggregation rules under attack (see dist_llm_train.aggregation.quality_benchmark)."""

import argparse
import sys

from dist_llm_train.aggregation import quality_benchmark

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=quality_benchmark.__doc__.splitlines()[0])
    quality_benchmark.add_arguments(parser)
    sys.exit(quality_benchmark.run(parser.parse_args()))
