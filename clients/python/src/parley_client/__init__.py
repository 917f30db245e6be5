"""parley_client: a typed Python client of Parley's API.

    from parley_client import Parley, text_of

    with Parley("http://127.0.0.1:8000", api_key="pk_…") as parley:
        data_set = parley.create_data_set("Plans")
        parley.add_document(data_set.id, "Duplex", "FiberUP Duplex includes an SLA.")
        conversation = parley.create_conversation(data_set.id)
        task = parley.ask(conversation.id, "Does Duplex include an SLA?")
        print(text_of(parley.stream(task)))        # the reply, as it is written
        status = parley.wait(task)                  # SUCCESS or FAILURE
"""

from parley_client._version import __version__
from parley_client.client import DialogSessions, Dialogues, NewMessage, Parley
from parley_client.errors import (Conflict, ConnectionFailed, Forbidden, Gone,
                                  InvalidRequest, NotFound, ParleyError, RateLimited,
                                  ServerError, StreamInterrupted, Unauthorized, Unavailable,
                                  WaitTimeout)
from parley_client.models import (Action, AssistantMessage, Confirmed, Conversation, DataSet,
                                  Dialogue, DialogueMessage, DialogSession, Document, History,
                                  Job, Message, Page, Preview, SessionStarted, Task,
                                  TaskStatus)
from parley_client.retries import RetryPolicy
from parley_client.streams import Event, EventStream, text_of

__all__ = [
    "__version__", "Parley", "Dialogues", "DialogSessions", "NewMessage", "RetryPolicy",
    "Event", "EventStream", "text_of",
    "ParleyError", "InvalidRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict",
    "Gone", "RateLimited", "Unavailable", "ServerError", "ConnectionFailed",
    "StreamInterrupted", "WaitTimeout",
    "Action", "AssistantMessage", "Confirmed", "Conversation", "DataSet", "Dialogue",
    "DialogueMessage", "DialogSession", "Document", "History", "Job", "Message", "Page",
    "Preview", "SessionStarted", "Task", "TaskStatus",
]
