"""Byzantine attacks (one per file) and their registry.

    attack = make_attack("alie")
    bad = attack.apply(honest_update, AttackContext(honest=honest_rows, n=10, f=2))
    batch = make_attack("label_flip").corrupt_batch(batch, AttackContext(vocab_size=50257))
"""

from dist_llm_train.attacks.base import Attack, AttackContext
from dist_llm_train.attacks.registry import ATTACKS, available_attacks, make_attack

__all__ = ["ATTACKS", "Attack", "AttackContext", "available_attacks", "make_attack"]
