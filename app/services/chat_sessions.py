"""The conversation service's view of the core: titled conversations, chat sessions
bound to a model, and questions answered by the session's model.

Sessions of one conversation share its history: each reply is written from the whole
conversation, whichever session asked, and records the session and model that wrote
it."""

from dataclasses import dataclass

from sqlalchemy import select

from app.errors import BadRequest, NotFound
from app.extensions import db
from app.models import ChatSession, Conversation, LanguageModel, Message
from app.models.base import new_uuid
from app.models.conversations import ACTIVE, ARCHIVED
from app.services import conversations, data_sets, language_models, replies
from app.services.replies import PostedQuestion


def create_conversation(org_id: str, title: str, is_archived: bool = False,
                        data_set_id: int | None = None) -> Conversation:
    """A conversation under a new UUID. Its title is the dialogue store's label, and
    archived is its status, so both faces show the same conversation the same way.
    With `data_set_id` (one of the organization's), its questions are answered from
    that data set, as a polling-face conversation's are."""
    data_sets.check_data_set(org_id, data_set_id)
    conversation = Conversation(org_id=org_id, public_id=new_uuid(), label=title,
                                status=ARCHIVED if is_archived else ACTIVE,
                                data_set_id=data_set_id)
    db.session.add(conversation)
    db.session.commit()
    return conversation


def is_archived(conversation: Conversation) -> bool:
    return conversation.status == ARCHIVED


def list_conversations(org_id: str, limit: int, offset: int) -> list[Conversation]:
    """Newest first."""
    return list(db.session.scalars(
        select(Conversation).where(*conversations.shared_by(org_id))
        .order_by(Conversation.started_at.desc(), Conversation.id.desc())
        .limit(limit).offset(offset)))


def with_sessions(org_id: str, conversation_id: str) -> Conversation:
    """The conversation; its `chat_sessions` load when read."""
    return conversations.get_by_public_id(org_id, conversation_id)


def create_session(org_id: str, conversation_id: str, model_id: str,
                   data_set_id: int | None = None) -> ChatSession:
    """A session of the conversation answered by the model; with `data_set_id` (one of
    the organization's), its questions are answered from that data set instead of the
    conversation's."""
    conversation = conversations.get_by_public_id(org_id, conversation_id)
    model = language_models.usable_model(model_id)
    data_sets.check_data_set(org_id, data_set_id)
    session = ChatSession(org_id=org_id, conversation_id=conversation.id, model_id=model.id,
                          data_set_id=data_set_id)
    db.session.add(session)
    db.session.commit()
    return session


def post_message(org_id: str, chat_session_id: str, text: str) -> PostedQuestion:
    """Store the question and queue its reply by the session's model, answered from the
    session's data set, else from the conversation's (else from none)."""
    session, model_enabled = _session_with_model(org_id, chat_session_id)
    if not model_enabled:
        raise BadRequest(f"The model of chat session {chat_session_id} is disabled: "
                         "create a session with another model (GET /api/models).")
    return replies.post_question(org_id, session.conversation_id, text,
                                 data_set_id=session.data_set_id,
                                 chat_session_id=session.id)


def _session_with_model(org_id: str, chat_session_id: str) -> tuple[ChatSession, bool]:
    found = db.session.execute(
        select(ChatSession, LanguageModel.enabled)
        .join(LanguageModel, LanguageModel.id == ChatSession.model_id)
        .join(Conversation, Conversation.id == ChatSession.conversation_id)
        .where(ChatSession.id == chat_session_id, ChatSession.org_id == org_id,
               Conversation.deleted_at.is_(None))).first()
    if found is None:
        raise NotFound(f"Chat session {chat_session_id} not found.")
    return found[0], found[1]


@dataclass(frozen=True)
class MessageView:
    message: Message
    conversation_id: str  # the public id


def messages(org_id: str, conversation_id: str, limit: int, offset: int) -> list[MessageView]:
    """The conversation's messages in order: offset and limit count positions from its
    first message."""
    conversation = conversations.get_by_public_id(org_id, conversation_id)
    rows = db.session.scalars(
        select(Message).where(Message.conversation_id == conversation.id)
        .order_by(Message.seq).limit(limit).offset(offset)).all()
    return [MessageView(row, conversation.public_id) for row in rows]
