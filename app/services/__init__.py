"""The core operations every face calls. Services never see HTTP: they take plain
values and an organization id, scope every query to it, and raise app.errors."""
