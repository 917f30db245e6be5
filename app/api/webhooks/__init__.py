"""Webhooks: endpoints an organization registers for events, their deliveries, and the
callback secret of per-request callbacks (on the polling face's paths and error body)."""
