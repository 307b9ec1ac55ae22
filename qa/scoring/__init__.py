"""QA scorecards: YAML schema, rule evaluators with evidence, and the evaluation of a call."""
