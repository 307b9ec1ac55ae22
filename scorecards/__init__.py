"""callqa's scorecards, installed as the package ``callqa_scorecards`` (see qa/resources.py)."""
