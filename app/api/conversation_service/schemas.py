"""The conversation service's shapes: UUID ids, titles, chat sessions, SSE chat."""

from marshmallow import Schema, fields, validate

from app.config import Config
from app.services import chat_sessions
from app.services.agent_io import API_ROLES
from app.validation import MAX_ID, Id, Text

TITLE_LIMIT = 128  # the dialogue store's label, which a title is
ID_LIMIT = 64
CONVERSATION_DATA_SET = ("Parley extension: the data set (GET /api/data_sets) the "
                         "conversation's questions are answered from; null: none.")
SESSION_DATA_SET = ("Parley extension: the data set (GET /api/data_sets) this session's "
                    "questions are answered from, instead of the conversation's; null: the "
                    "conversation's.")


class ChatConversationCreateSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=TITLE_LIMIT))
    is_archived = fields.Boolean(load_default=False)
    data_set_id = Id(load_default=None, allow_none=True,
                     metadata={"description": CONVERSATION_DATA_SET})


class ChatConversationSchema(Schema):
    # A UUID when made here; a conversation made by another face keeps its own id.
    id = fields.String(attribute="public_id")
    title = fields.String(attribute="label", allow_none=True)
    is_archived = fields.Function(chat_sessions.is_archived,
                                  metadata={"type": "boolean"})
    created_at = fields.DateTime(attribute="started_at")
    updated_at = fields.DateTime()
    data_set_id = fields.Integer(allow_none=True,
                                 metadata={"description": CONVERSATION_DATA_SET})


# `org_id` is checked and documented by the face's guard (routes.py); a query schema
# leaves it out, and webargs ignores the query parameters a schema does not name.
class PageQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_ID))


class ConversationQuerySchema(Schema):
    conversation_id = Text(required=True, validate=validate.Length(min=1, max=ID_LIMIT))


class MessagesQuerySchema(PageQuerySchema, ConversationQuerySchema):
    pass


class SessionCreateSchema(Schema):
    conversation_id = Text(required=True, validate=validate.Length(min=1, max=ID_LIMIT))
    model_id = Text(required=True, validate=validate.Length(min=1, max=ID_LIMIT))
    data_set_id = Id(load_default=None, allow_none=True,
                     metadata={"description": SESSION_DATA_SET})


class SessionSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    conversation_id = fields.Function(lambda session: session.conversation.public_id)
    model_id = fields.String(metadata={"format": "uuid"})
    status = fields.String(metadata={"enum": ["active"]})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    data_set_id = fields.Integer(allow_none=True, metadata={"description": SESSION_DATA_SET})


class ChatConversationWithSessionsSchema(ChatConversationSchema):
    sessions = fields.List(fields.Nested(SessionSchema), attribute="chat_sessions")


class StreamChatSchema(Schema):
    chat_session_id = Text(required=True, validate=validate.Length(min=1, max=ID_LIMIT))
    message = Text(required=True,
                   validate=validate.Length(min=1, max=Config.MAX_QUESTION_CHARS))


class ModelSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    name = fields.String()
    provider = fields.String(metadata={"enum": ["anthropic", "offline"]})


class UsageSchema(Schema):
    input_tokens = fields.Integer(allow_none=True)
    output_tokens = fields.Integer(allow_none=True)


class ChatMessageSchema(Schema):
    id = fields.String(attribute="message.public_id")
    conversation_id = fields.String()
    role = fields.Function(lambda view: API_ROLES[view.message.role],
                           metadata={"enum": sorted(API_ROLES.values())})
    content = fields.String(attribute="message.text")
    chat_session_id = fields.String(attribute="message.chat_session_id", allow_none=True)
    model_id = fields.String(attribute="message.model_id", allow_none=True)
    model = fields.String(attribute="message.model", allow_none=True)
    # What a reply cost; null on the user's messages.
    usage = fields.Function(lambda view: UsageSchema().dump(view.message)
                            if view.message.role == "agent" else None,
                            metadata={"type": "object"}, allow_none=True)
    created_at = fields.DateTime(attribute="message.created_at")
