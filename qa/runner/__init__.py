"""Runners: the local batch runner today; the durable queue and distributed runners build on process_call()."""
