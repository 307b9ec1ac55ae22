"""The callqa HTTP API (FastAPI): ``create_app(store)``; served by ``qa serve``."""
