"""Speech recognition: faster-whisper engine and the model resolver."""
