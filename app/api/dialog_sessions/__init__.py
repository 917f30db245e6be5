"""The dialog sessions face: /v1/dialog-sessions, /v1/jobs, the organization's briefing
resources (/v1/glossaries, /v1/style-references, /v1/presets, /v1/templates) and
/v1/auth/token."""
