"""Task-specific knowledge, kept out of the generic routers: features of multiple-choice items
(MMLU's answer options), of maths word problems (GSM8K's quantities and answer-format risks), and
a safe checker of shown arithmetic. Routers and scorers take them as options
(``features="form+options"``, ``prompt_features="math"``)."""
