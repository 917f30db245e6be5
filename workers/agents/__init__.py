"""What answers. Agents take plain values from the core and a provider, and know
nothing of HTTP, Celery or the database."""
