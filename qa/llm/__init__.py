"""The optional generative stage (extra ``callqa[llm]``): a checked summary of each call and answers to scorecard
``ask`` items, from a small instruction-tuned model run by llama.cpp on the premises (qa/llm/models.py resolves it).

Nothing here imports llama_cpp until a model is loaded: the scorer and the checks (verify.py) work without it.
"""
