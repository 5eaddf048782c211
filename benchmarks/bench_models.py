"""Forward+backward tokens/s and peak memory per model preset (see dist_llm_train.models.benchmark)."""

import argparse
import sys

from dist_llm_train.models import benchmark

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=benchmark.__doc__)
    benchmark.add_arguments(parser)
    sys.exit(benchmark.run(parser.parse_args()))
