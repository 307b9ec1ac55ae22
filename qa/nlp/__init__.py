"""Language: request type, emergency cues, sentiment, entities, PII redaction."""
