"""Batches: many questions in one request, their status and their results."""
