"""Codec speed and size on a GPT-2-small-sized vector (same as `dist-llm-train bench compression`)."""

import sys

from dist_llm_train.compression.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
