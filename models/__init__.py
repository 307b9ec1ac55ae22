"""callqa's trained models and their corpora, installed as the package ``callqa_models`` (see qa/resources.py)."""
