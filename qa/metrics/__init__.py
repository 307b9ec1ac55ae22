"""Conversation metrics from speaker timelines: talk/listen, silence, hold, overtalk, interruptions, speaking rate."""
