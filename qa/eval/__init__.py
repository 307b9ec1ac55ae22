"""Evaluation helpers shared by tests and benchmarks: word error rate, reference transcripts."""
