"""eval layer: held-out perplexity and masked-token accuracy on fixed blocks.

Public API: Evaluator(kind, eval_blocks, ...) / Evaluator.from_data(LMData, ...); evaluate(module) -> dict.
"""

from dist_llm_train.eval.evaluator import Evaluator, select_blocks

__all__ = ["Evaluator", "select_blocks"]
