"""SQLAlchemy 2 typed models, one module per aggregate."""

from app.models.batches import Batch, BatchRequest
from app.models.chat_sessions import ChatSession, LanguageModel
from app.models.conversations import Conversation, Message
from app.models.data_sets import DataSet, Document, Passage
from app.models.dialog_sessions import BriefingResource, DialogSession, Job
from app.models.idempotency_keys import IdempotencyKey
from app.models.organizations import ApiKey, Organization
from app.models.tasks import Task, TaskState
from app.models.webhooks import Webhook, WebhookCallback, WebhookDelivery, WebhookEvent

__all__ = ["ApiKey", "Batch", "BatchRequest", "BriefingResource", "ChatSession",
           "Conversation", "DataSet", "DialogSession", "Document", "IdempotencyKey", "Job",
           "LanguageModel", "Message", "Organization", "Passage", "Task", "TaskState",
           "Webhook", "WebhookCallback", "WebhookDelivery", "WebhookEvent"]
