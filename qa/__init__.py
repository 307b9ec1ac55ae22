"""callqa: quality assurance and speech analytics for recorded 311 calls.

The public surface is small on purpose; heavy modules (faster-whisper, librosa) load only when a stage needs them.
"""

__version__ = "0.1.0"
SCHEMA_VERSION = "1.0"

__all__ = ["SCHEMA_VERSION", "__version__"]
