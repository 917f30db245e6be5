"""The documentation pages' files: /docs/assets/."""
