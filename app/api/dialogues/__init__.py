"""The dialogue store face: /dialogue (specs/dialogue-store-api.md)."""
