"""Audio in: decoding, channel layout, energy activity."""
