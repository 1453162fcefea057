"""The staff chat: hand-offs arrive there, agents answer from there.

One forum topic per citizen (createForumTopic); when the staff chat has no
topics (createForumTopic refused) every hand-off is a reply thread under its
header message instead. In both cases:

* the header tells the agent the citizen's language, why the bot handed
  over, what it had understood and the recent messages;
* each citizen message is posted with the answers the assistant would give
  as buttons; a tap sends that answer to the citizen in the citizen's
  language;
* what an agent writes in the topic (or as a reply) is copied to the
  citizen, except notes starting with "//"; /close gives the conversation
  back to the bot. An agent's edit reaches the citizen too: the copy is
  edited when this process made it (the mapping is kept in memory for
  EDIT_WINDOW), else the new version is sent marked as a correction.

Personal data: what the citizen wrote (in the header's recent messages and
each relayed message) is shown with every IIN and phone number masked
(actions.validators.mask_personal); a citizen message of any length is
relayed whole, split over several messages past Telegram's limit. /forget
deletes the citizen's topic (`forget_citizen`), or closes it when the bot
may not delete it.

Who is staff: only updates from the staff chat reach this router (the chat
filter is on the router), and the author must be a member of that chat
right now (getChatMember, cached for a minute): a removed agent's old
buttons stop working. Which citizen: always the one the topic or the
replied-to message belongs to (storage/handoffs.py), never a value the
update carries.

The bot must be an administrator of the staff chat (with "Manage topics"):
admins receive every message of a group, and only they may create topics.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ContentType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
)
from aiogram.filters import Command, Filter
from aiogram.types import (
    CallbackQuery,
    ChatMemberRestricted,
    InputMediaAnimation,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
    ReplyParameters,
    TelegramObject,
)

from actions.assistant import Assistant
from actions.events import Button
from actions.handoff import (
    NAME,
    STAFF_CLOSE,
    SUGGESTION,
    DeskUnavailable,
    HandoffFlow,
    StaffSide,
    Ticket,
    parse_suggestion_payload,
    suggestion_payload,
)
from actions.i18n import Translator
from actions.suggest import Suggestion
from actions.validators import mask_personal
from bot.dedupe import Claims
from bot.keyboards import inline_keyboard
from bot.render import NO_PREVIEW, send_text, split_text
from storage.handoffs import Handoffs, HandoffView, StaffTraces

log = logging.getLogger(__name__)

INTERNAL_NOTE = "//"  # an agent's message starting with this stays in the staff chat
MEMBERSHIP_TTL = 60.0  # seconds a getChatMember answer is trusted
PREVIEW_CHARS = 300  # of each suggested answer, in the staff chat
PRESS_WINDOW = 30.0  # a second tap on the same suggestion within this is a double tap
EDIT_WINDOW = 48 * 3600.0  # an agent's message copied this long ago is still edited in place
COPIES_KEPT = 20_000  # agent message -> citizen copy mappings kept (the oldest go first)
DELETE_BATCH = 100  # deleteMessages takes at most this many ids
# Fluent refuses a placeable longer than 2,500 characters ("{???}"): long
# texts are put into the rendered message in place of this mark instead.
_TEXT_MARK = "\ue000"
# What an agent may send a citizen (copied as is); service messages are not.
RELAYED_CONTENT = frozenset(
    {
        ContentType.TEXT,
        ContentType.PHOTO,
        ContentType.DOCUMENT,
        ContentType.VIDEO,
        ContentType.VOICE,
        ContentType.AUDIO,
        ContentType.ANIMATION,
        ContentType.STICKER,
        ContentType.VIDEO_NOTE,
        ContentType.LOCATION,
        ContentType.VENUE,
        ContentType.CONTACT,
    }
)
_STAFF_STATUSES = frozenset(
    {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)


class _ThreadGone(Exception):
    """The citizen's topic was deleted from the staff chat."""


def fill(t: Translator, lang: str, key: str, text: str, **args: Any) -> str:
    """Message `key` with `text` as its $text, whatever its length (Fluent
    renders a placeable over 2,500 characters as "{???}")."""
    rendered = t(lang, key, text=_TEXT_MARK, **args)
    if _TEXT_MARK not in rendered:
        return rendered + "\n" + text
    return rendered.replace(_TEXT_MARK, text)


@dataclass(frozen=True)
class Copy:
    """An agent's message as the citizen received it."""

    user_id: int
    message_id: int
    at: float
    prefix: str = ""  # a correction sent as a new message starts with this


class TelegramDesk:
    """The staff desk (actions.handoff.StaffDesk) in a Telegram supergroup."""

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        handoffs: Handoffs,
        t: Translator,
        staff_lang: str = "ru",
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.handoffs = handoffs
        self.t = t
        self.lang = staff_lang
        self._members: dict[int, tuple[float, bool]] = {}
        self._copies: OrderedDict[int, Copy] = OrderedDict()

    # -- StaffDesk ----------------------------------------------------------------------
    async def open(self, ticket: Ticket) -> None:
        handoff = ticket.handoff
        try:
            thread = await self._topic(handoff, reuse=True)
            try:
                header = await self._post(
                    self._header(ticket, thread), thread, None, self._close_row()
                )
            except _ThreadGone:
                await self.handoffs.forget_topic(self.chat_id, handoff.user_id)
                thread = await self._topic(handoff, reuse=False)
                header = await self._post(
                    self._header(ticket, thread), thread, None, self._close_row()
                )
        except (TelegramAPIError, _ThreadGone) as exc:
            raise DeskUnavailable(type(exc).__name__) from exc
        await self.handoffs.placed(handoff.id, self.chat_id, thread, header[-1])

    async def relay(self, handoff: HandoffView, text: str, suggestions: list[Suggestion]) -> None:
        body = self._relayed(handoff, text, suggestions)
        buttons = [
            [Button(self._button_label(n, s), suggestion_payload(s))]
            for n, s in enumerate(suggestions, 1)
        ]
        try:
            try:
                posted = await self._post_in(handoff, body, buttons)
            except _ThreadGone:
                handoff = await self._reopen_topic(handoff)
                posted = await self._post_in(handoff, body, buttons)
        except (TelegramAPIError, _ThreadGone) as exc:
            raise DeskUnavailable(type(exc).__name__) from exc
        for message_id in posted:
            await self.handoffs.relayed(handoff.id, self.chat_id, message_id)

    async def closed_by_citizen(self, handoff: HandoffView) -> None:
        try:
            await self._post_in(handoff, self.t(self.lang, "ho-staff-closed-by-citizen"))
        except (TelegramAPIError, _ThreadGone) as exc:
            raise DeskUnavailable(type(exc).__name__) from exc

    # -- membership -----------------------------------------------------------------------
    async def is_staff(self, event: Message | CallbackQuery) -> bool:
        """Whether the author may act as staff: a member of the staff chat now."""
        if isinstance(event, Message):
            if event.sender_chat is not None:
                # Posted as the chat itself: an anonymous administrator.
                return event.sender_chat.id == self.chat_id
            user = event.from_user
        else:
            user = event.from_user
        if user is None or user.is_bot:
            return False
        now = time.monotonic()
        cached = self._members.get(user.id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            member = await self.bot.get_chat_member(self.chat_id, user.id)
        except TelegramBadRequest:
            ok = False  # "user not found": never been in the chat
        else:
            ok = member.status in _STAFF_STATUSES or (
                isinstance(member, ChatMemberRestricted) and member.is_member
            )
        if len(self._members) > 10_000:
            self._members.clear()
        self._members[user.id] = (now + MEMBERSHIP_TTL, ok)
        return ok

    # -- where a message belongs ------------------------------------------------------------
    async def handoff_of(self, message: Message) -> tuple[int | None, HandoffView | None]:
        """(citizen, their open hand-off) of a staff-chat message: its forum
        topic, else the message it replies to."""
        if message.is_topic_message and message.message_thread_id is not None:
            user_id, handoff = await self.handoffs.in_topic(self.chat_id, message.message_thread_id)
            if user_id is not None:
                return user_id, handoff
        reply = message.reply_to_message
        if reply is not None:
            return await self.handoffs.at_message(self.chat_id, reply.message_id)
        return None, None

    async def handoff_at(self, message: Message) -> tuple[int | None, HandoffView | None]:
        """The same for the message a button is on (itself one of the hand-off's)."""
        user_id, handoff = await self.handoffs.at_message(self.chat_id, message.message_id)
        if user_id is None:
            return await self.handoff_of(message)
        return user_id, handoff

    async def note(
        self,
        key: str,
        *,
        handoff: HandoffView | None = None,
        about: Message | None = None,
        **args: Any,
    ) -> None:
        """A line for the agents: as a reply to the message `about`, else in
        the hand-off's topic (or under its header)."""
        if about is not None:
            thread = about.message_thread_id if about.is_topic_message else None
            reply_to: int | None = about.message_id
        elif handoff is not None:
            thread = handoff.thread_id
            reply_to = handoff.header_message_id if thread is None else None
        else:
            return
        try:
            await self._post(self.t(self.lang, key, **args), thread, reply_to)
        except (TelegramAPIError, _ThreadGone):
            log.warning("note to the staff chat not posted", exc_info=True)

    # -- agents' messages as the citizen got them -------------------------------------------
    def copied(self, staff_message_id: int, copy: Copy) -> None:
        """Remember where an agent's message went (to relay its edits)."""
        self._copies[staff_message_id] = copy
        self._copies.move_to_end(staff_message_id)
        while len(self._copies) > COPIES_KEPT:
            self._copies.popitem(last=False)

    def copy_of(self, staff_message_id: int, user_id: int) -> Copy | None:
        copy = self._copies.get(staff_message_id)
        if copy is None or copy.user_id != user_id:
            return None
        if time.monotonic() - copy.at > EDIT_WINDOW:
            self._copies.pop(staff_message_id, None)
            return None
        return copy

    # -- /forget ----------------------------------------------------------------------------
    async def forget_citizen(self, traces: StaffTraces) -> None:
        """A citizen's /forget: their topic is deleted from the staff chat
        (every message in it goes), or, when the bot may not delete it,
        closed with a note; hand-off messages outside a topic are deleted.
        Best effort: a failure is logged, the citizen's data is gone anyway."""
        for thread in traces.topics:
            try:
                await self.bot.delete_forum_topic(self.chat_id, thread)
                continue
            except TelegramAPIError as exc:
                log.info("staff topic not deleted (%s): closing it", exc.message)
            try:
                await self._post(self.t(self.lang, "ho-staff-forgotten"), thread, None)
            except (TelegramAPIError, _ThreadGone):
                log.info("staff topic of a forgotten citizen: no note posted")
            try:
                await self.bot.close_forum_topic(self.chat_id, thread)
            except TelegramAPIError as exc:
                log.warning("staff topic of a forgotten citizen not closed: %s", exc.message)
        messages = list(traces.messages)
        for start in range(0, len(messages), DELETE_BATCH):
            try:
                await self.bot.delete_messages(self.chat_id, messages[start : start + DELETE_BATCH])
            except TelegramAPIError as exc:
                log.warning("staff messages of a forgotten citizen not deleted: %s", exc.message)
        for key in [k for k, c in self._copies.items() if c.user_id == traces.user_id]:
            self._copies.pop(key, None)

    # -- rendering ---------------------------------------------------------------------------
    def title(self, intent: str, service: str | None, channel: str | None) -> str:
        parts = [self._label(f"topic-{intent}", intent)]
        if service:
            parts.append(self._label(f"service-{service}", service))
        if channel:
            parts.append(self._label(f"channel-{channel}", channel))
        return " · ".join(parts)

    def _label(self, key: str, fallback: str) -> str:
        label = self.t(self.lang, key)
        return fallback if label == key else label

    def _header(self, ticket: Ticket, thread: int | None) -> str:
        t, sl, h = self.t, self.lang, ticket.handoff
        lines = [
            t(sl, "ho-staff-header", id=h.id, language=t(sl, f"ho-lang-{h.lang}")),
            t(sl, f"ho-staff-reason-{ticket.reason}"),
        ]
        if ticket.intent and ticket.intent != "nlu_fallback":
            # (Not understood is said in words, never as "nlu_fallback [0.00]".)
            confidence = "—" if ticket.confidence is None else f"{ticket.confidence:.2f}"
            lines.append(
                t(
                    sl,
                    "ho-staff-understood",
                    intent=self.title(ticket.intent, ticket.service, None),
                    code=ticket.intent,
                    confidence=confidence,
                )
            )
        else:
            lines.append(t(sl, "ho-staff-understood-none"))
        if ticket.answer_from is not None:
            lines.append(
                t(sl, "ho-staff-outside", next=ticket.answer_from.strftime("%d.%m.%Y %H:%M"))
            )
        if ticket.recent:
            lines += ["", t(sl, "ho-staff-recent")]
            lines += [
                ("👤 " if who == "c" else "🤖 ") + mask_personal(said)
                for who, said in ticket.recent
            ]
        lines += ["", t(sl, "ho-staff-howto-topic" if thread else "ho-staff-howto-reply")]
        return "\n".join(lines)

    def _relayed(self, handoff: HandoffView, text: str, suggestions: Sequence[Suggestion]) -> str:
        t, sl = self.t, self.lang
        lines = [fill(t, sl, "ho-staff-message", mask_personal(text), id=handoff.id)]
        if suggestions:
            lines += ["", t(sl, "ho-staff-suggestions")]
            for n, s in enumerate(suggestions, 1):
                preview = s.text if len(s.text) <= PREVIEW_CHARS else s.text[:PREVIEW_CHARS] + "…"
                lines += ["", f"{n}. {self.title(*s.key)}", preview]
                if s.citation:
                    lines.append(t(s.lang, "cite-line", cite=s.citation))
        return "\n".join(lines)

    def _button_label(self, n: int, s: Suggestion) -> str:
        return self.t(self.lang, "ho-staff-suggestion-button", n=n, title=self.title(*s.key))

    def _close_row(self) -> list[list[Button]]:
        return [[Button(self.t(self.lang, "btn-ho-staff-close"), STAFF_CLOSE)]]

    # -- sending -----------------------------------------------------------------------------
    async def _topic(self, handoff: HandoffView, *, reuse: bool) -> int | None:
        """The citizen's forum topic (made on first use); None when the chat
        has no topics (or the bot may not make them): reply threads then."""
        if reuse:
            existing = await self.handoffs.topic_of(self.chat_id, handoff.user_id)
            if existing is not None:
                return existing
        name = self.t(self.lang, "ho-topic-name", language=handoff.lang.upper(), id=handoff.id)
        try:
            topic = await self.bot.create_forum_topic(self.chat_id, name[:128])
        except TelegramBadRequest as exc:
            log.info("no forum topic (%s): reply threads instead", exc.message)
            return None
        return topic.message_thread_id

    async def _reopen_topic(self, handoff: HandoffView) -> HandoffView:
        await self.handoffs.forget_topic(self.chat_id, handoff.user_id)
        thread = await self._topic(handoff, reuse=False)
        lang = self.t(self.lang, f"ho-lang-{handoff.lang}")
        header = await self._post(
            self.t(self.lang, "ho-staff-header", id=handoff.id, language=lang),
            thread,
            None,
            self._close_row(),
        )
        await self.handoffs.placed(handoff.id, self.chat_id, thread, header[-1])
        return await self.handoffs.get(handoff.id) or handoff

    async def _post_in(
        self, handoff: HandoffView, text: str, buttons: Sequence[Sequence[Button]] = ()
    ) -> list[int]:
        thread = handoff.thread_id
        reply_to = handoff.header_message_id if thread is None else None
        return await self._post(text, thread, reply_to, buttons)

    async def _post(
        self,
        text: str,
        thread: int | None,
        reply_to: int | None,
        buttons: Sequence[Sequence[Button]] = (),
    ) -> list[int]:
        """Send `text` (split when long, buttons under the last part); the ids sent."""
        ids: list[int] = []
        parts = split_text(text) or ["…"]
        for i, part in enumerate(parts):
            try:
                message = await self.bot.send_message(
                    self.chat_id,
                    part,
                    message_thread_id=thread,
                    reply_parameters=ReplyParameters(
                        message_id=reply_to, allow_sending_without_reply=True
                    )
                    if reply_to
                    else None,
                    reply_markup=inline_keyboard(buttons) if i == len(parts) - 1 else None,
                    link_preview_options=NO_PREVIEW,
                )
            except TelegramBadRequest as exc:
                if thread is not None and "thread not found" in exc.message.lower():
                    raise _ThreadGone from exc
                raise
            ids.append(message.message_id)
        return ids


# -- the router ----------------------------------------------------------------------------
def _flow_of(assistant: Assistant) -> HandoffFlow | None:
    flow = assistant.flows.get(NAME)
    return flow if isinstance(flow, HandoffFlow) else None


def desk_of(assistant: Assistant) -> TelegramDesk | None:
    """The staff chat the hand-offs go to, when there is one."""
    flow = _flow_of(assistant)
    desk = flow.desk if flow is not None else None
    return desk if isinstance(desk, TelegramDesk) else None


def attach_desk(
    assistant: Assistant, bot: Bot, staff_chat_id: int | None, staff_lang: str = "ru"
) -> TelegramDesk | None:
    """Plug the staff chat into the hand-off flow (once the bot exists).
    Without a staff chat the flow keeps telling citizens to call 1414."""
    flow = _flow_of(assistant)
    if flow is None or staff_chat_id is None:
        return None
    desk = TelegramDesk(bot, staff_chat_id, flow.handoffs, assistant.t, staff_lang)
    flow.attach(desk)
    return desk


class StaffChat(Filter):
    """The update comes from the staff chat; gives handlers `desk` and `staff`."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    async def __call__(self, event: TelegramObject) -> bool | dict[str, Any]:
        flow = _flow_of(self.assistant)
        desk = flow.desk if flow is not None else None
        if flow is None or not isinstance(desk, TelegramDesk):
            return False
        if isinstance(event, Message):
            chat_id = event.chat.id
        elif isinstance(event, CallbackQuery) and event.message is not None:
            chat_id = event.message.chat.id
        else:
            return False
        if chat_id != desk.chat_id:
            return False
        return {"desk": desk, "staff": StaffSide(self.assistant, flow)}


async def on_staff_close(message: Message, bot: Bot, desk: TelegramDesk, staff: StaffSide) -> None:
    if not await desk.is_staff(message):
        log.info("staff chat: /close by a non-member ignored")
        return
    user_id, handoff = await desk.handoff_of(message)
    if user_id is None:
        return  # not in a citizen's topic or thread
    if handoff is None:
        await desk.note("ho-staff-already-closed", about=message)
        return
    await _close(bot, desk, staff, handoff)


async def _close(bot: Bot, desk: TelegramDesk, staff: StaffSide, handoff: HandoffView) -> None:
    notice = await staff.close(handoff)
    if notice is None:
        await desk.note("ho-staff-already-closed", handoff=handoff)
        return
    try:
        await send_text(bot, handoff.user_id, notice.text, notice.buttons)
    except TelegramForbiddenError:
        log.info("hand-off %s: citizen blocked the bot", handoff.id)
    await desk.note("ho-staff-closed-by-staff", handoff=handoff)


async def on_staff_message(
    message: Message, bot: Bot, desk: TelegramDesk, staff: StaffSide
) -> None:
    if message.content_type not in RELAYED_CONTENT:
        return  # topic created, member joined, pinned ...
    if (message.text or "").startswith(("/", INTERNAL_NOTE)):
        return  # another bot's command, or a note for colleagues
    user_id, handoff = await desk.handoff_of(message)
    if user_id is None:
        return  # the chat's own conversation, not a citizen's topic
    if not await desk.is_staff(message):
        log.info("staff chat: message of a non-member not relayed")
        return
    if handoff is None:
        await desk.note("ho-staff-not-open", about=message)
        return
    try:
        copied = await bot.copy_message(handoff.user_id, desk.chat_id, message.message_id)
    except TelegramForbiddenError:
        await staff.close(handoff)
        await desk.note("ho-staff-blocked", about=message)
        return
    except TelegramBadRequest as exc:
        log.warning("hand-off %s: agent's message not delivered: %s", handoff.id, exc.message)
        await desk.note("ho-staff-undelivered", about=message)
        return
    desk.copied(message.message_id, Copy(handoff.user_id, copied.message_id, time.monotonic()))
    await staff.answered(handoff)


def _new_media(message: Message) -> Any:
    """The edited message's media as editMessageMedia takes it; None for
    content that cannot replace a copy in place (text, location ...)."""
    caption = message.caption
    entities = message.caption_entities
    if message.photo:
        return InputMediaPhoto(
            media=message.photo[-1].file_id, caption=caption, caption_entities=entities
        )
    if message.video:
        return InputMediaVideo(
            media=message.video.file_id, caption=caption, caption_entities=entities
        )
    if message.animation:
        return InputMediaAnimation(
            media=message.animation.file_id, caption=caption, caption_entities=entities
        )
    if message.audio:
        return InputMediaAudio(
            media=message.audio.file_id, caption=caption, caption_entities=entities
        )
    if message.document:
        return InputMediaDocument(
            media=message.document.file_id, caption=caption, caption_entities=entities
        )
    return None


async def _edit_copy(bot: Bot, message: Message, copy: Copy) -> bool:
    """Edit the citizen's copy of `message` in place; False when it cannot be."""
    try:
        if message.text is not None:
            text = (copy.prefix + message.text) if copy.prefix else message.text
            await bot.edit_message_text(
                text=text,
                chat_id=copy.user_id,
                message_id=copy.message_id,
                entities=None if copy.prefix else message.entities,
                parse_mode=None,
                link_preview_options=NO_PREVIEW,
            )
            return True
        media = None if copy.prefix else _new_media(message)
        if media is None:
            return False
        await bot.edit_message_media(media, chat_id=copy.user_id, message_id=copy.message_id)
        return True
    except TelegramBadRequest as exc:
        if "not modified" in exc.message.lower():
            return True
        log.info("agent's edit not applied to the copy (%s): sent as a correction", exc.message)
        return False


async def on_staff_edit(message: Message, bot: Bot, desk: TelegramDesk, staff: StaffSide) -> None:
    """An agent edited a message of theirs: the citizen gets the new version."""
    if message.content_type not in RELAYED_CONTENT:
        return
    if (message.text or "").startswith(("/", INTERNAL_NOTE)):
        return
    user_id, handoff = await desk.handoff_of(message)
    if user_id is None or handoff is None:
        return  # not a citizen's topic, or the conversation is over: nothing to correct
    if not await desk.is_staff(message):
        log.info("staff chat: edit of a non-member not relayed")
        return
    copy = desk.copy_of(message.message_id, handoff.user_id)
    try:
        if copy is not None and await _edit_copy(bot, message, copy):
            return
        marked = desk.t(handoff.lang, "ho-corrected")
        if message.text is not None:
            sent = await send_text(bot, handoff.user_id, marked + "\n\n" + message.text)
            new = Copy(handoff.user_id, sent.message_id, time.monotonic(), marked + "\n\n")
        else:
            await send_text(bot, handoff.user_id, marked)
            again = await bot.copy_message(handoff.user_id, desk.chat_id, message.message_id)
            new = Copy(handoff.user_id, again.message_id, time.monotonic())
    except TelegramForbiddenError:
        await staff.close(handoff)
        await desk.note("ho-staff-blocked", about=message)
        return
    except TelegramBadRequest as exc:
        log.warning("hand-off %s: agent's edit not delivered: %s", handoff.id, exc.message)
        await desk.note("ho-staff-undelivered", about=message)
        return
    desk.copied(message.message_id, new)


async def on_suggestion(
    callback: CallbackQuery, bot: Bot, desk: TelegramDesk, staff: StaffSide, claims: Claims
) -> None:
    message = callback.message
    key = parse_suggestion_payload(callback.data or "")
    if not isinstance(message, Message) or key is None:
        await callback.answer()
        return
    sl = desk.lang
    if not await desk.is_staff(callback):
        await callback.answer(desk.t(sl, "ho-staff-not-member"), show_alert=True)
        return
    if not await claims.claim(
        f"ho:{desk.chat_id}:{message.message_id}:{callback.data}", PRESS_WINDOW
    ):
        await callback.answer()
        return  # a double tap: the first one sends
    _, handoff = await desk.handoff_at(message)
    if handoff is None:
        await callback.answer(desk.t(sl, "ho-staff-not-open"), show_alert=True)
        return
    suggestion = staff.answer(handoff, *key)
    if suggestion is None:
        await callback.answer(desk.t(sl, "ho-staff-answer-missing"), show_alert=True)
        return
    try:
        await send_text(bot, handoff.user_id, suggestion.message)
    except TelegramForbiddenError:
        await staff.close(handoff)
        await callback.answer()
        await desk.note("ho-staff-blocked", about=message)
        return
    await staff.answered(handoff)
    await callback.answer(desk.t(sl, "ho-staff-sent-toast"))
    await desk.note("ho-staff-sent", about=message, title=desk.title(*key))


async def on_close_button(
    callback: CallbackQuery, bot: Bot, desk: TelegramDesk, staff: StaffSide
) -> None:
    message = callback.message
    if not isinstance(message, Message):
        await callback.answer()
        return
    if not await desk.is_staff(callback):
        await callback.answer(desk.t(desk.lang, "ho-staff-not-member"), show_alert=True)
        return
    await callback.answer()
    user_id, handoff = await desk.handoff_at(message)
    if user_id is None:
        return
    if handoff is None:
        await desk.note("ho-staff-already-closed", about=message)
        return
    await _close(bot, desk, staff, handoff)


async def on_other_button(callback: CallbackQuery) -> None:
    await callback.answer()


def make_router(assistant: Assistant) -> Router:
    """Everything that happens in the staff chat (and nothing else)."""
    router = Router(name="staff")
    in_staff_chat = StaffChat(assistant)
    router.message.filter(in_staff_chat)
    router.callback_query.filter(in_staff_chat)
    router.message.register(on_staff_close, Command("close"))
    router.message.register(on_staff_message)
    router.edited_message.filter(in_staff_chat)
    router.edited_message.register(on_staff_edit)
    router.callback_query.register(on_suggestion, F.data.startswith(SUGGESTION + ":"))
    router.callback_query.register(on_close_button, F.data == STAFF_CLOSE)
    router.callback_query.register(on_other_button)
    return router
