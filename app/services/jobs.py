"""Jobs: what a confirmed dialog session becomes (task kind `job`, on its own queue so
a long job never holds up a reply).

Confirm is idempotent: the session is marked confirmed by a conditional update, which
only one request can make, and the database allows one job per session; confirming a
confirmed session answers with its job. A job's status is its task's state (the task
row is the truth); the job keeps the briefing it was confirmed with, its result and its
token usage.
"""

from sqlalchemy import select, update

from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.models import DialogSession, Job, Task
from app.models.base import utcnow
from app.models.dialog_sessions import CONFIRMED, TEMPLATE
from app.services import briefing_resources, briefings, dialog_sessions, events, pricing, tasks
from app.services.agent_io import JobInput, JobResult
from app.services.lifecycle import Gathered, TaskKind
from app.services.organizations import Caller
from app.services.tasks import Claim

# A job's status, from its task's state.
STATUSES = {tasks.PENDING: "queued", tasks.STARTED: "running", tasks.SUCCESS: "completed",
            tasks.FAILURE: "failed"}


def confirm(caller: Caller, session_id: str, save_as_template: bool = False,
            template_name: str | None = None) -> dict:
    """Turn the session's complete briefing into a job (and, if asked, a template);
    the session's job if it is confirmed already. Refused while a message of the
    session is still being answered: its answer may change the briefing."""
    now = utcnow()
    session = dialog_sessions.owned(caller, session_id)
    if session.status == CONFIRMED:
        return _confirmation(session.public_id, _job_of_session(session.id))
    dialog_sessions.require_active(session, now)
    # From here the session's row is locked: no turn can store into it meanwhile.
    briefing = dialog_sessions.claim_for_confirm(session, now)
    if briefing is None:  # confirmed (or ended) by another request since it was read
        db.session.rollback()
        return _confirmed_meanwhile(caller, session_id)
    _check_confirmable(session, briefing)
    template_id = None
    if save_as_template:
        template_id = briefing_resources.add(
            caller.org_id, TEMPLATE, template_name or f"Briefing of {session.public_id}",
            {"briefing": briefing}).public_id
    task_id, _ = tasks.add_task(caller.org_id, KIND.name)
    job = Job(org_id=caller.org_id, key_id=session.key_id, session_id=session.id,
              task_id=task_id, mode=session.mode, briefing=briefing,
              template_id=template_id)
    db.session.add(job)
    db.session.commit()
    tasks.publish(task_id, KIND.name)
    return _confirmation(session.public_id, (job, tasks.PENDING))


def _confirmed_meanwhile(caller: Caller, session_id: str) -> dict:
    session = dialog_sessions.owned(caller, session_id)
    if session.status == CONFIRMED:
        return _confirmation(session.public_id, _job_of_session(session.id))
    dialog_sessions.require_active(session)
    raise Conflict(f"Dialog session {session_id} changed meanwhile; confirm again.",
                   code="session_changed")


def _check_confirmable(session, briefing: dict) -> None:
    """With the session locked: no turn unanswered, nothing required missing."""
    if dialog_sessions.turn_unanswered(session):
        db.session.rollback()
        raise Conflict("A message of this session is still being answered: confirm once "
                       "its answer is done.", code="turn_in_progress")
    missing = briefings.missing_fields(briefing)
    if missing:
        db.session.rollback()
        raise InvalidInput(f"The briefing is incomplete; missing: {', '.join(missing)}.",
                           {"missing_fields": missing}, code="briefing_incomplete")


def _confirmation(session_id: str, job_and_state) -> dict:
    job, state = job_and_state
    return {"session_id": session_id, "status": CONFIRMED, "job_id": job.public_id,
            "job_status": STATUSES[state], "template_id": job.template_id}


def _job_of_session(session_id: int):
    """The session's job and its task's state."""
    job, state, *_ = db.session.execute(
        _jobs_with_state().where(Job.session_id == session_id)).one()
    return job, state


def _jobs_with_state():
    """A job, its task's state, error and last change, and its session's public id."""
    return (select(Job, Task.state, Task.error, Task.updated_at, DialogSession.public_id)
            .join(Task, Task.id == Job.task_id)
            .join(DialogSession, DialogSession.id == Job.session_id))


def get(caller: Caller, job_id: str) -> dict:
    """One of the caller's jobs (another key's or organization's is not found)."""
    row = db.session.execute(_jobs_with_state().where(
        Job.public_id == job_id, Job.org_id == caller.org_id,
        Job.key_id == caller.key_id)).first()
    if row is None:
        raise NotFound(f"Job {job_id} not found.", code="job_not_found")
    return view(*row)


def page(caller: Caller, limit: int, after: str | None) -> list[dict]:
    """The caller's jobs, newest first, after the cursor (a job id)."""
    query = _jobs_with_state().where(Job.org_id == caller.org_id,
                                     Job.key_id == caller.key_id)
    if after:
        cursor = db.session.scalar(select(Job.id).where(
            Job.public_id == after, Job.org_id == caller.org_id, Job.key_id == caller.key_id))
        if cursor is None:
            raise NotFound(f"Job {after} not found.", code="job_not_found")
        query = query.where(Job.id < cursor)
    return [view(*row) for row in db.session.execute(query.order_by(Job.id.desc())
                                                     .limit(limit))]


def view(job: Job, state: str, error: str | None, task_updated_at,
         session_public_id: str) -> dict:
    return {"job_id": job.public_id, "session_id": session_public_id, "mode": job.mode,
            "status": STATUSES[state], "task_id": job.task_id, "briefing": job.briefing,
            "result": job.result, "error": error if state == tasks.FAILURE else None,
            "model": job.model,
            "usage": {"input_tokens": job.input_tokens, "output_tokens": job.output_tokens},
            "cost_eur": pricing.cost_eur([(job.model, job.input_tokens, job.output_tokens)]),
            "template_id": job.template_id, "created_at": job.created_at,
            "updated_at": max(job.updated_at, task_updated_at)}


# -- the kind of work ---------------------------------------------------------------------

def gather(claim: Claim) -> Gathered:
    job = db.session.scalar(select(Job).where(Job.task_id == claim.task_id))
    briefing = job.briefing
    return Gathered(
        input=JobInput(
            mode=job.mode, briefing=briefing,
            glossary_terms=briefing_resources.glossary_terms(
                claim.org_id, briefings.glossary_ids(briefing)),
            style_reference=briefing_resources.style_text(claim.org_id,
                                                          briefing.get("style_ref_id"))),
        kept=(job.id, job.public_id), announce={"job_id": job.public_id})


def store(claim: Claim, job_ids: tuple[int, str], result: JobResult) -> dict:
    """The result on the job (job_ids: its key and its public id, kept by gather)."""
    job_id, public_id = job_ids
    db.session.execute(update(Job).where(Job.id == job_id).values(
        result={"text": result.text, **result.details}, model=result.model,
        input_tokens=result.input_tokens, output_tokens=result.output_tokens,
        updated_at=utcnow()))
    return {**events.end_data(claim.task_id, None, result.model, result.input_tokens,
                              result.output_tokens), "job_id": public_id}


KIND = TaskKind("job", "jobs", gather, store)

