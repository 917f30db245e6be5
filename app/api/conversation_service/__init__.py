"""The conversation service face: /api/conversation/... and /api/models."""
