"""Writers for the per-call outputs: JSON, WebVTT, SRT, RTTM."""
