"""Routes of the conversation service face. Every endpoint takes the caller's
organization as `org_id` in the query; each view is one call into app.services, and
stream_chat relays the reply's task events as Server-Sent Events."""

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.conversation_service import schemas
from app.auth import SECURITY_SCHEMES, current_caller, require_caller
from app.errors import BadRequest, Forbidden, error_body, register_error_shape
from app.services import chat_sessions, language_models
from app.streaming import sse_response, task_relay
from app.validation import JSONParser

blp = Blueprint("conversation_service", __name__, url_prefix="/api",
                description="The conversation service: conversations, chat sessions bound "
                            "to a model, and replies streamed as Server-Sent Events.")
blp.ARGUMENTS_PARSER = JSONParser()
SECURITY = [{name: []} for name in SECURITY_SCHEMES]
# For views without a query schema; the others document org_id with their query
# schema (schemas.OrgQuerySchema), since a doc's parameters would replace theirs.
ORG_ID = {"in": "query", "name": "org_id", "required": True, "schema": {"type": "string"},
          "description": "Your organization's id; it must be the API key's."}
PATHS = ("/api/conversation", "/api/models")


def service_error(status: int, message: str, errors: dict | None, code: str | None):
    """The spec answers every invalid input 400 (a body that is not JSON included)."""
    status = 400 if status in (415, 422) else status
    return status, error_body(status, message, errors)


for _path in PATHS:
    register_error_shape(_path, service_error)


@blp.before_request
def require_organization() -> None:
    """Authenticate, then check `org_id`: missing is a 400, another organization's a 403."""
    require_caller()
    org_id = request.args.get("org_id", "").strip()
    if not org_id:
        raise BadRequest("The org_id query parameter is required.",
                         {"query": {"org_id": ["Missing data for required field."]}})
    if org_id != current_caller().org_id:
        raise Forbidden(f"Your API key does not belong to organization {org_id}.")


def _org() -> str:
    return current_caller().org_id


def _doc(query_schema: bool = False, **extra):
    return blp.doc(security=SECURITY, **({} if query_schema else {"parameters": [ORG_ID]}),
                   **extra)


@blp.route("/conversation/create")
class CreateConversation(MethodView):
    @_doc()
    @blp.arguments(schemas.ChatConversationCreateSchema)
    @blp.response(201, schemas.ChatConversationSchema)
    def post(self, body):
        """Create a conversation"""
        return chat_sessions.create_conversation(_org(), body["title"], body["is_archived"])


@blp.route("/conversation/list")
class ListConversations(MethodView):
    @_doc(query_schema=True)
    @blp.arguments(schemas.PageQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.ChatConversationSchema(many=True))
    def get(self, limit, offset):
        """List the organization's conversations, newest first"""
        return chat_sessions.list_conversations(_org(), limit, offset)


@blp.route("/conversation/get_with_sessions")
class ConversationWithSessions(MethodView):
    @_doc(query_schema=True)
    @blp.arguments(schemas.ConversationQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.ChatConversationWithSessionsSchema)
    def get(self, conversation_id):
        """Get a conversation with its chat sessions"""
        return chat_sessions.with_sessions(_org(), conversation_id)


@blp.route("/conversation/create_session")
class CreateSession(MethodView):
    @_doc()
    @blp.arguments(schemas.SessionCreateSchema)
    @blp.response(201, schemas.SessionSchema)
    def post(self, body):
        """Create a chat session: the conversation answered by one model

        Sessions of a conversation share its history; each reply records the session
        and model that wrote it."""
        return chat_sessions.create_session(_org(), body["conversation_id"], body["model_id"])


@blp.route("/conversation/stream_chat")
class StreamChat(MethodView):
    @_doc(responses={200: {
        "description": "Server-Sent Events: `start` (task_id, user_message_id, "
                       "message_id), `content` ({text}, in order), then `end` (message_id, "
                       "usage) or `error` (message). Every event has an id: reconnect to "
                       "GET /api/tasks/{task_id}/events with Last-Event-ID to resume.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
    @blp.arguments(schemas.StreamChatSchema)
    def post(self, body):
        """Send a message and stream the reply as it is written

        The reply is written by a worker; this relays its events. Disconnecting does
        not stop it: it is stored all the same."""
        posted = chat_sessions.post_message(_org(), body["chat_session_id"], body["message"])
        return sse_response(task_relay(_org(), posted.task_id))


@blp.route("/conversation/messages")
class Messages(MethodView):
    @_doc(query_schema=True)
    @blp.arguments(schemas.MessagesQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.ChatMessageSchema(many=True))
    def get(self, conversation_id, limit, offset):
        """A conversation's messages, in order"""
        return chat_sessions.messages(_org(), conversation_id, limit, offset)


@blp.route("/models")
class Models(MethodView):
    @_doc()
    @blp.response(200, schemas.ModelSchema(many=True))
    def get(self):
        """The models a chat session can use"""
        return language_models.list_models()
