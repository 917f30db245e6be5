"""Task events: any task's progress as Server-Sent Events."""
