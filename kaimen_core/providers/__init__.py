"""Adapters for outside services, each behind a small interface with an offline twin."""

__all__: list[str] = []
