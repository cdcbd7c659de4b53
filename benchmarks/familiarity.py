"""Does a router know what it does not know? Familiarity of prompts like and unlike its training data.

A router is fitted on 10,000 MMLU prompts (seed-0 permutation), with the classifier's encoder
(MiniLM layers 1-6, ``layers``) and with the top layer alone (``default``); familiarity depends only
on the encoder and the training prompts, so a logistic head stands in for the whole stack. Then:

* the 2,323 held-out MMLU prompts (like the training data: familiarity should be uniform, about 5 %
  below the default ``min_familiarity`` of 0.05);
* all 1,307 GSM8K questions (maths word problems without answer options);
* requests of other kinds: chit-chat, code, translation, summaries, questions without options.

For each: mean familiarity, the share below 0.05, and the share a policy with
``unfamiliar="strong"`` sends to the strong model although the router alone would not.

Run: python benchmarks/familiarity.py
The last line reads: ``mmlu_flagged=… gsm8k_flagged=… other_flagged=…`` (the ``layers`` encoder).
"""

from __future__ import annotations

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.routers import make_router

OTHER = [
    "What is 2 + 2?", "Tell me a joke about cats.", "hi, how are you today?", "Thanks, that was helpful!",
    "Write a Python function that reverses a string.", "Fix this SQL: SELECT * FORM users WHERE id = 3",
    "Translate 'good morning, see you tomorrow' into French.", "How do I say thank you in Japanese?",
    "Summarise this email: the meeting moved to 3pm and Anna will bring the slides.",
    "Draft a polite reply declining the invitation to Friday's dinner.", "What's the weather like in Paris in May?",
    "Recommend three science fiction novels for a teenager.", "Explain recursion to a five-year-old.",
    "Write a haiku about autumn leaves.", "What time zone is Tokyo in?", "Give me a recipe for pancakes without eggs.",
    "Is it rude to leave a party without saying goodbye?", "Plan a three-day trip to Rome on a budget.",
    "Convert 72 degrees Fahrenheit to Celsius.", "Who won the football world cup in 2010?",
]


def row(name: str, router, prompts: list[str]) -> float:
    fam, near = router.familiarity(prompts)
    plain = router.decide(prompts)
    flagged = fam < 0.05
    router.set_policy(unfamiliar="strong")
    moved = np.mean([a.model != b.model for a, b in zip(plain, router.decide(prompts))])
    router.set_policy(unfamiliar=None)
    print(f"  {name:34s} n={len(prompts):5d}  familiarity mean {fam.mean():.3f}  below 0.05: {flagged.mean():6.1%}  "
          f"below 0.01: {(fam < 0.01).mean():6.1%}  "
          f"nearest similarity {near.mean():.3f}  unfamiliar='strong' changes {moved:6.1%} of decisions")
    return float(flagged.mean())


def main() -> None:
    mmlu, gsm8k = load_dataset("routellm-mmlu"), load_dataset("routellm-gsm8k")
    order = np.random.default_rng(0).permutation(len(mmlu))
    train, held = mmlu.subset(order[:10_000]), mmlu.subset(order[10_000:])
    flagged = {}
    for encoder in ("layers", "default"):
        router = make_router(f"logistic:encoder={encoder}").fit(train)
        print(f"encoder {encoder!r} ({router.encoder_.id}), fitted on {len(train):,} MMLU prompts:")
        flagged[encoder] = {"mmlu": row("held-out MMLU prompts", router, held.prompts),
                            "gsm8k": row("GSM8K questions", router, gsm8k.prompts),
                            "other": row("other requests (chat, code, ...)", router, OTHER)}
    print(" ".join(f"{k}_flagged={v:.3f}" for k, v in flagged["layers"].items()))


if __name__ == "__main__":
    main()
