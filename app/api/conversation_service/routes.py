"""Routes of the conversation service face. Every endpoint takes the caller's
organization as `org_id` in the query; each view is one call into app.services, and
stream_chat relays the reply's task events as Server-Sent Events."""

from flask import Response, request
from flask.views import MethodView

from app.api.conversation_service import schemas
from app.api.face import ErrorFormat, FaceBlueprint, Guard
from app.auth import current_org
from app.errors import BadRequest, Forbidden
from app.services import chat_sessions, language_models
from app.streaming import event_stream_response, sse_response, task_relay

ORG_ID = {"in": "query", "name": "org_id", "required": True,
          "schema": {"type": "string", "minLength": 1},
          "description": "Your organization's id; it must be the API key's."}


def check_organization() -> None:
    """`org_id` names the caller's organization: missing is a 400, another's a 403."""
    org_id = request.args.get("org_id", "").strip()
    if not org_id:
        raise BadRequest("The org_id query parameter is required.",
                         {"query": {"org_id": ["Missing data for required field."]}})
    if org_id != current_org():
        raise Forbidden(f"Your API key does not belong to organization {org_id}.")


# The spec answers every invalid input 400 (a body that is not JSON included). Its
# paths share the /api prefix with the polling face's, so they are named.
ERRORS = ErrorFormat(statuses={415: 400, 422: 400})
blp = FaceBlueprint("conversation_service", __name__, url_prefix="/api", errors=ERRORS,
                    paths=("/api/conversation", "/api/models"),
                    guard=Guard(check_organization, parameters=(ORG_ID,), errors=(400, 403)),
                    description="The conversation service: conversations, chat sessions bound "
                                "to a model, and replies streamed as Server-Sent Events.")


@blp.route("/conversation/create")
class CreateConversation(MethodView):
    @blp.idempotent
    @blp.errors(404)
    @blp.arguments(schemas.ChatConversationCreateSchema)
    @blp.response(201, schemas.ChatConversationSchema)
    def post(self, body):
        """Create a conversation

        With `data_set_id` (a Parley extension), its questions are answered from that
        data set; an unknown one, or another organization's, is a 404."""
        return chat_sessions.create_conversation(current_org(), body["title"],
                                                 body["is_archived"], body["data_set_id"])


@blp.route("/conversation/list")
class ListConversations(MethodView):
    @blp.arguments(schemas.PageQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.ChatConversationSchema(many=True))
    def get(self, limit, offset):
        """List the organization's conversations, newest first"""
        return chat_sessions.list_conversations(current_org(), limit, offset)


@blp.route("/conversation/get_with_sessions")
class ConversationWithSessions(MethodView):
    @blp.errors(404)
    @blp.arguments(schemas.ConversationQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.ChatConversationWithSessionsSchema)
    def get(self, conversation_id):
        """Get a conversation with its chat sessions"""
        return chat_sessions.with_sessions(current_org(), conversation_id)


@blp.route("/conversation/create_session")
class CreateSession(MethodView):
    @blp.idempotent
    @blp.errors(404)
    @blp.arguments(schemas.SessionCreateSchema)
    @blp.response(201, schemas.SessionSchema)
    def post(self, body):
        """Create a chat session: the conversation answered by one model

        Sessions of a conversation share its history; each reply records the session
        and model that wrote it. With `data_set_id` (a Parley extension), the session's
        questions are answered from that data set instead of the conversation's."""
        return chat_sessions.create_session(current_org(), body["conversation_id"],
                                            body["model_id"], body["data_set_id"])


def chat_stream(task_id: str) -> Response:
    """The reply's events as SSE, the task named in X-Task-Id (a replay's too)."""
    response = sse_response(task_relay(current_org(), task_id))
    response.headers["X-Task-Id"] = task_id
    return response


@blp.route("/conversation/stream_chat")
class StreamChat(MethodView):
    @blp.idempotent(stream=chat_stream)
    @blp.doc(responses={200: event_stream_response(
        "Server-Sent Events: `start` (task_id, user_message_id, message_id), `content` "
        "({text}, in order), then `end` (message_id, usage) or `error` (message). Every "
        "event has an id: reconnect to GET /api/tasks/{task_id}/events with "
        "Last-Event-ID to resume.")})
    @blp.errors(404, 409)
    @blp.arguments(schemas.StreamChatSchema)
    def post(self, body):
        """Send a message and stream the reply as it is written

        The reply is written by a worker; this relays its events. Disconnecting does
        not stop it: it is stored all the same."""
        posted = chat_sessions.post_message(current_org(), body["chat_session_id"],
                                            body["message"])
        return chat_stream(posted.task_id)


@blp.route("/conversation/messages")
class Messages(MethodView):
    @blp.errors(404)
    @blp.arguments(schemas.MessagesQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.ChatMessageSchema(many=True))
    def get(self, conversation_id, limit, offset):
        """A conversation's messages, in order"""
        return chat_sessions.messages(current_org(), conversation_id, limit, offset)


@blp.route("/models")
class Models(MethodView):
    @blp.response(200, schemas.ModelSchema(many=True))
    def get(self):
        """The models a chat session can use"""
        return language_models.list_models()
