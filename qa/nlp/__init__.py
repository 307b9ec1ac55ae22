"""Language: request type, emergency cues (sentiment, entities and PII redaction: issue #4, not yet built)."""
