"""A city's profile: its street list (gazetteer), addresses matched to it, and the agents' tickets checked against
the calls. The hotword pass that uses the list in recognition lives in ``qa.asr.hotwords``."""
