"""What the tests share, in one place: the documents and questions they ask about
(data), apps on a database (apps), the settings of the integration run (environment),
worker, beat and gunicorn processes (processes), the real-path stacks (stacks), the
fault stack (faults), a throwaway PostgreSQL cluster (postgres), fakes for task event
streams (events), the conversation service's calls (conversation_service), agent
inputs (agents), and the fake Anthropic server (fake_anthropic, also runnable:
`python -m tests.support.fake_anthropic --port 8765`).

A test module imports from here, never from another test module; conftest.py files
hold only fixtures.
"""
