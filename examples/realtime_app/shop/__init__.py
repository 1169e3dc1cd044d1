"""Orders and inventory with a live event stream: FastAPI + SQLAlchemy 2.0 on SQLite."""
