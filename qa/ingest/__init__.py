"""Inputs other than audio: transcripts a centre already has."""
