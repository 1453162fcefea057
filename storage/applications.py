"""Applications (intake): a citizen's request for a duplicate, from the
confirmed form to the document handed over.

Status graph (each status is reached at most once, so "application +
status" names one notification):

    received -> in_review -> ready -> issued
        \\            \\
         +-> rejected <+

Correctness lives in the database, the same on SQLite and PostgreSQL:
- Numbers (DUP-YYYY-NNNNN) come from a per-prefix-and-year counter row that
  the creating transaction increments first (`UPDATE ... RETURNING`): the
  row lock (PostgreSQL) or the write lock (SQLite) orders concurrent
  creates, the counter rolls back with a failed create (no gaps), and
  `number` is unique besides.
- A confirmed form carries a token: confirming twice gives one application.
- A status change is a conditional UPDATE on the old status: of two staff
  members changing one application at once, one wins, the other gets
  `InvalidTransition`. The citizen's notification is an outbox row written
  in the same transaction, keyed "app:<number>:<status>", so it exists
  exactly when the change does and is sent once (storage/outbox.py).

Personal data (names, IIN, phone, the PDF) is kept only on the application
row and its hand-off note, and `forget_user` blanks it. The IIN is also
kept as a salted PBKDF2 hash (per-row salt) so that someone who is not the
owner can look an application up by number *and* IIN.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column, undefer

from storage import outbox
from storage.models import Base, utcnow

if TYPE_CHECKING:
    from actions.i18n import Translator

log = logging.getLogger(__name__)

RECEIVED = "received"
IN_REVIEW = "in_review"
READY = "ready"
ISSUED = "issued"
REJECTED = "rejected"
STATUSES = (RECEIVED, IN_REVIEW, READY, ISSUED, REJECTED)
TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({IN_REVIEW, REJECTED}),
    IN_REVIEW: frozenset({READY, REJECTED}),
    READY: frozenset({ISSUED}),
    ISSUED: frozenset(),
    REJECTED: frozenset(),
}
OPEN_STATUSES = (RECEIVED, IN_REVIEW, READY)
PREFIXES = {"duplicate": "DUP"}
PLACE_MAX = 300
REASON_MAX = 500
# PBKDF2 rounds for the IIN hash: an IIN has few possible values, so each
# guess should cost something; ~20 ms here.
IIN_HASH_ROUNDS = 100_000
STAFF_LANG = "ru"


# -- tables -----------------------------------------------------------------------------
def _id_column() -> Any:
    # INTEGER PRIMARY KEY is what autoincrements on SQLite.
    return mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )


class ApplicationCounter(Base):
    """The last number given for a prefix and year ("DUP-2026")."""

    __tablename__ = "application_counters"

    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[int] = _id_column()
    number: Mapped[str] = mapped_column(String(20), unique=True)
    # Telegram id of the citizen (their private chat); None once forgotten.
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    service: Mapped[str] = mapped_column(String(20), default="duplicate")
    status: Mapped[str] = mapped_column(String(16), default=RECEIVED, index=True)
    lang: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(16))  # provider | psc
    due_date: Mapped[date] = mapped_column(Date)
    pickup_place: Mapped[str | None] = mapped_column(String(PLACE_MAX))
    reject_reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    # The confirmed form's token: confirming the same form twice finds this row.
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    # What the form asked for (not personal): option keys of appendix1.yml.
    reason: Mapped[str] = mapped_column(String(32))
    requested: Mapped[str] = mapped_column(String(32))
    # Personal data (Appendix 1); blanked by forget_user.
    university_head_name: Mapped[str | None] = mapped_column(String(200))
    specialty: Mapped[str | None] = mapped_column(String(300))
    university: Mapped[str | None] = mapped_column(String(300))
    graduation_year: Mapped[int | None] = mapped_column(Integer)
    applicant_name: Mapped[str | None] = mapped_column(String(200))
    iin: Mapped[str | None] = mapped_column(String(12))
    phone: Mapped[str | None] = mapped_column(String(16))
    university_new: Mapped[str | None] = mapped_column(String(400))
    iin_salt: Mapped[str | None] = mapped_column(String(32))
    iin_hash: Mapped[str | None] = mapped_column(String(64))
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    forgotten_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def year(self) -> int:
        return int(self.number.split("-")[1])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def pdf_name(self) -> str:
        return f"{self.number}.pdf"


class ApplicationEvent(Base):
    """History: who moved an application, from what to what, when."""

    __tablename__ = "application_events"

    id: Mapped[int] = _id_column()
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(REASON_MAX))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApplicationHandoff(Base):
    """A confirmed application waiting for staff: what they need to call the
    citizen back and prepare the duplicate."""

    __tablename__ = "application_handoffs"

    id: Mapped[int] = _id_column()
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), unique=True
    )
    note: Mapped[str] = mapped_column(Text)  # personal data: blanked by forget_user
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    taken_by: Mapped[str | None] = mapped_column(String(80))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# -- values -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApplicantForm:
    """The filled Appendix 1 (validated by the form before it gets here)."""

    university_head_name: str
    specialty: str
    university: str
    graduation_year: int
    applicant_name: str
    iin: str
    phone: str
    reason: str
    requested: str
    university_new: str | None = None


class InvalidTransition(ValueError):
    """A status change that is not allowed. `code`: not-allowed, unknown-status,
    place-required, reason-required, concurrent."""

    def __init__(self, code: str, current: str | None = None, target: str | None = None) -> None:
        super().__init__(f"{code}: {current} -> {target}")
        self.code = code
        self.current = current
        self.target = target

    @property
    def allowed(self) -> list[str]:
        return sorted(TRANSITIONS.get(self.current or "", ()))


class ApplicationNotFound(LookupError):
    pass


def normalize_number(text: str) -> str:
    return text.strip().upper()


def hash_iin(iin: str, salt: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", iin.encode(), bytes.fromhex(salt), IIN_HASH_ROUNDS)
    return digest.hex()


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# -- the repository ------------------------------------------------------------------------
class Applications:
    """Use cases over applications; each method is its own transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        translator: Translator | None = None,
        staff_chat_id: int | None = None,
        staff_lang: str = STAFF_LANG,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self._translator = translator
        self.staff_chat_id = staff_chat_id
        self.staff_lang = staff_lang
        self.clock = clock

    @property
    def t(self) -> Translator:
        if self._translator is None:
            # Deferred: the UI strings are only needed once something is written.
            from actions.i18n import default_translator

            self._translator = default_translator()
        return self._translator

    # -- creating ------------------------------------------------------------------------
    async def create(
        self,
        form: ApplicantForm,
        *,
        user_id: int,
        lang: str,
        channel: str,
        due_date: date,
        service: str = "duplicate",
        token: str | None = None,
        now: datetime | None = None,
        document: Callable[[Application], Awaitable[bytes | None]] | None = None,
        handoff_note: Callable[[Application], str] | None = None,
    ) -> Application:
        """Number, application, PDF (`document`), hand-off record and staff
        notice, in one transaction. With a `token` already used, the
        application made then is returned and nothing new is written."""
        now = now or self.clock()
        prefix = PREFIXES[service]
        salt = secrets.token_hex(16)
        # Hashing takes a while on purpose: outside the transaction's locks.
        iin_hash = await asyncio.to_thread(hash_iin, form.iin, salt)
        for _attempt in range(3):
            try:
                async with self.sessions() as session, session.begin():
                    # First statement a write: SQLite takes its write lock here,
                    # before any read, so concurrent creates queue instead of
                    # failing to upgrade a read lock.
                    seq = await _next_number(session, f"{prefix}-{now.year}")
                    if token is not None:
                        existing = await session.scalar(
                            select(Application).where(Application.client_token == token)
                        )
                        if existing is not None:
                            raise _AlreadyCreated(existing.id)
                    app = Application(
                        number=f"{prefix}-{now.year}-{seq:05d}",
                        user_id=user_id,
                        service=service,
                        status=RECEIVED,
                        lang=lang,
                        channel=channel,
                        due_date=due_date,
                        client_token=token,
                        reason=form.reason,
                        requested=form.requested,
                        university_head_name=form.university_head_name,
                        specialty=form.specialty,
                        university=form.university,
                        graduation_year=form.graduation_year,
                        applicant_name=form.applicant_name,
                        iin=form.iin,
                        phone=form.phone,
                        university_new=form.university_new,
                        iin_salt=salt,
                        iin_hash=iin_hash,
                        created_at=utcnow(),
                        updated_at=utcnow(),
                    )
                    session.add(app)
                    await session.flush()
                    if document is not None:
                        app.pdf = await document(app)
                    session.add(
                        ApplicationEvent(
                            application_id=app.id,
                            from_status=None,
                            to_status=RECEIVED,
                            actor=f"citizen:{user_id}",
                        )
                    )
                    note = handoff_note(app) if handoff_note else self.staff_summary(app)
                    session.add(ApplicationHandoff(application_id=app.id, note=note))
                    if self.staff_chat_id is not None:
                        await outbox.enqueue(
                            session,
                            self.staff_chat_id,
                            self.t(
                                self.staff_lang,
                                "staff-app-new",
                                number=app.number,
                                channel=self.t(self.staff_lang, f"channel-{app.channel}"),
                                due=_fmt(app.due_date),
                            ),
                            key=f"app:{app.number}:staff-new",
                        )
                log.info("application %s created (user %s)", app.number, user_id)
                return app
            except _AlreadyCreated as found:
                async with self.sessions() as session:
                    again = await session.get(
                        Application, found.id, options=[undefer(Application.pdf)]
                    )
                assert again is not None
                return again
            except IntegrityError:
                # Another confirmation of the same form won the race (token),
                # or a number was taken outside the counter: look, then retry.
                if token is not None:
                    async with self.sessions() as session:
                        existing = await session.scalar(
                            select(Application)
                            .where(Application.client_token == token)
                            .options(undefer(Application.pdf))
                        )
                    if existing is not None:
                        return existing
                log.warning("application number clash; retrying")
        raise RuntimeError("could not allocate an application number")

    # -- reading ----------------------------------------------------------------------------
    async def get(self, number: str) -> Application | None:
        async with self.sessions() as session:
            return cast(
                Application | None,
                await session.scalar(
                    select(Application).where(Application.number == normalize_number(number))
                ),
            )

    async def list(self, status: str | None = None, limit: int = 100) -> Sequence[Application]:
        """Newest first; only `status` when given."""
        query = select(Application).order_by(Application.id.desc()).limit(limit)
        if status is not None:
            query = query.where(Application.status == status)
        async with self.sessions() as session:
            return (await session.scalars(query)).all()

    async def for_user(self, user_id: int) -> Sequence[Application]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(Application)
                .where(Application.user_id == user_id)
                .order_by(Application.id.desc())
            )
            return rows.all()

    async def pdf(self, number: str) -> bytes | None:
        async with self.sessions() as session:
            return cast(
                bytes | None,
                await session.scalar(
                    select(Application.pdf).where(Application.number == normalize_number(number))
                ),
            )

    async def lookup(
        self, number: str, *, user_id: int, iin: str | None = None
    ) -> Application | None:
        """The application `number` if `user_id` owns it or `iin` is the
        applicant's; None otherwise (the same answer for a number that does
        not exist, so numbers cannot be probed)."""
        app = await self.get(number)
        if app is None:
            if iin is not None:
                # Spend the same time as a real check.
                await asyncio.to_thread(hash_iin, iin, "00" * 16)
            return None
        if app.user_id is not None and app.user_id == user_id:
            return app
        if iin is None or not app.iin_hash or not app.iin_salt:
            return None
        candidate = await asyncio.to_thread(hash_iin, iin, app.iin_salt)
        return app if hmac.compare_digest(candidate, app.iin_hash) else None

    async def handoff(self, number: str) -> ApplicationHandoff | None:
        async with self.sessions() as session:
            return cast(
                ApplicationHandoff | None,
                await session.scalar(
                    select(ApplicationHandoff)
                    .join(Application, Application.id == ApplicationHandoff.application_id)
                    .where(Application.number == normalize_number(number))
                ),
            )

    async def history(self, number: str) -> Sequence[ApplicationEvent]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(ApplicationEvent)
                .join(Application, Application.id == ApplicationEvent.application_id)
                .where(Application.number == normalize_number(number))
                .order_by(ApplicationEvent.id)
            )
            return rows.all()

    # -- staff ------------------------------------------------------------------------------
    async def change_status(
        self,
        number: str,
        new_status: str,
        *,
        place: str | None = None,
        reason: str | None = None,
        actor: str,
    ) -> Application:
        """Move an application on and notify its citizen (once). Raises
        ApplicationNotFound, or InvalidTransition when the move is not allowed
        or lacks its place (ready) / reason (rejected)."""
        if new_status not in STATUSES:
            raise InvalidTransition("unknown-status", None, new_status)
        place = (place or "").strip()[:PLACE_MAX] or None
        reason = (reason or "").strip()[:REASON_MAX] or None
        async with self.sessions() as session, session.begin():
            app = await session.scalar(
                select(Application).where(Application.number == normalize_number(number))
            )
            if app is None:
                raise ApplicationNotFound(number)
            old = app.status
            if new_status not in TRANSITIONS[old]:
                raise InvalidTransition("not-allowed", old, new_status)
            if new_status == READY and place is None:
                raise InvalidTransition("place-required", old, new_status)
            if new_status == REJECTED and reason is None:
                raise InvalidTransition("reason-required", old, new_status)
            values: dict[str, Any] = {"status": new_status, "updated_at": utcnow()}
            if new_status == READY:
                values["pickup_place"] = place
            if new_status == REJECTED:
                values["reject_reason"] = reason
            result = await session.execute(
                update(Application)
                .where(Application.id == app.id, Application.status == old)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1:
                raise InvalidTransition("concurrent", old, new_status)
            session.add(
                ApplicationEvent(
                    application_id=app.id,
                    from_status=old,
                    to_status=new_status,
                    actor=actor[:80],
                    note=place or reason,
                )
            )
            await session.flush()
            await session.refresh(app)
            if app.user_id is not None:
                await outbox.enqueue(
                    session,
                    app.user_id,
                    self.citizen_notice(app),
                    buttons=[[{"text": self.t(app.lang, "btn-status"), "payload": "app:status"}]],
                    key=f"app:{app.number}:{new_status}",
                )
        log.info("application %s: %s -> %s by %s", app.number, old, new_status, actor)
        return app

    # -- privacy ----------------------------------------------------------------------------
    async def forget_user(self, user_id: int) -> int:
        """Blank the personal data of every application of `user_id`; return
        how many. Numbers, statuses and dates stay (staff statistics)."""
        async with self.sessions() as session, session.begin():
            return await forget_user(session, user_id)

    # -- texts ----------------------------------------------------------------------------
    def citizen_notice(self, app: Application) -> str:
        t, lang = self.t, app.lang
        return t(
            lang,
            f"intake-notify-{app.status}",
            number=app.number,
            place=app.pickup_place or "",
            reason=app.reject_reason or "",
            due=_fmt(app.due_date),
        )

    def staff_summary(self, app: Application, *, lang: str | None = None) -> str:
        """Everything staff need to handle the application (IIN masked)."""
        from actions.validators import mask_iin

        t = self.t
        lang = lang or self.staff_lang
        return t(
            lang,
            "staff-app-card",
            number=app.number,
            status=t(lang, f"intake-status-{app.status}"),
            service=t(lang, f"service-{app.service}"),
            channel=t(lang, f"channel-{app.channel}"),
            citizen_lang=app.lang,
            due=_fmt(app.due_date),
            created=_fmt(app.created_at.date()),
            applicant=app.applicant_name or "—",
            iin=mask_iin(app.iin) or "—",
            phone=app.phone or "—",
            university=app.university or "—",
            year=str(app.graduation_year or "—"),
            specialty=app.specialty or "—",
            head=app.university_head_name or "—",
            university_new=app.university_new or "—",
            reason=t(lang, f"intake-reason-{app.reason}"),
            requested=t(lang, f"intake-requested-{app.requested}"),
            place=app.pickup_place or "—",
            reject_reason=app.reject_reason or "—",
        )


class _AlreadyCreated(Exception):
    def __init__(self, application_id: int) -> None:
        super().__init__(application_id)
        self.id = application_id


async def _next_number(session: AsyncSession, key: str) -> int:
    """Increment the counter `key` and return its new value; the row stays
    locked by this transaction until it ends."""
    bump = (
        update(ApplicationCounter)
        .where(ApplicationCounter.key == key)
        .values(last=ApplicationCounter.last + 1)
        .returning(ApplicationCounter.last)
        .execution_options(synchronize_session=False)
    )
    value = (await session.execute(bump)).scalar_one_or_none()
    if value is not None:
        return int(value)
    # The year's first application: create the row (whoever is first), then bump.
    dialect = session.get_bind().dialect.name
    dialect_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        dialect_insert(ApplicationCounter)
        .values(key=key, last=0)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return int((await session.execute(bump)).scalar_one())


async def forget_user(session: AsyncSession, user_id: int) -> int:
    """`Applications.forget_user` inside the caller's transaction (for /forget)."""
    ids = list(
        (await session.scalars(select(Application.id).where(Application.user_id == user_id))).all()
    )
    return await forget_applications(session, ids)


async def forget_applications(session: AsyncSession, ids: list[int]) -> int:
    """Blank the personal data of the applications `ids` (used by /forget and by
    the retention job); numbers, statuses and dates stay. The caller commits."""
    if not ids:
        return 0
    await session.execute(
        update(Application)
        .where(Application.id.in_(ids))
        .values(
            user_id=None,
            client_token=None,
            university_head_name=None,
            specialty=None,
            university=None,
            graduation_year=None,
            applicant_name=None,
            iin=None,
            phone=None,
            university_new=None,
            iin_salt=None,
            iin_hash=None,
            pdf=None,
            forgotten_at=utcnow(),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(ApplicationHandoff)
        .where(ApplicationHandoff.application_id.in_(ids))
        .values(note="")
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(ApplicationEvent)
        .where(ApplicationEvent.application_id.in_(ids), ApplicationEvent.actor.like("citizen:%"))
        .values(actor="citizen")
        .execution_options(synchronize_session=False)
    )
    return len(ids)


def _fmt(d: date) -> str:
    return d.strftime("%d.%m.%Y")
