"""Who spoke when: stereo channels, mono backends, words -> speakers -> turns, agent/caller roles."""
