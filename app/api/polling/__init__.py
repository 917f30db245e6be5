"""The conversations (polling) face: specs/conversations-polling-api.md."""
