"""The application flow: filling Appendix 1 for a duplicate, and checking
the status of one's applications.

Payloads ("app:..."):
  app:start, app:resume, app:grant            begin / go on / grants are elsewhere
  app:consent:yes|no                          consent to personal data processing
  app:pick:<field>:<option>                   a choice field (reason, requested, channel)
  app:back, app:skip, app:keep, app:cancel    move in the form
  app:summary, app:edit, app:edit:<field>     the summary and editing one field
  app:confirm                                 create the application
  app:status, app:lookup, app:lookup:cancel   my applications; one by number (+IIN)

State (conv.flow == "app", in conv.flow_data, never in the database before
confirmation): {"form": {"step", "data", "editing", "token"}, "lookup": {...}}.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import deque
from collections.abc import Sequence
from typing import Any

from actions.events import Button, Outcome, Reply
from actions.flows import QUESTION_RE, FlowContext
from actions.i18n import LANGS
from actions.intake.form import (
    BY_KEY,
    CHANNEL_CHOICES,
    KEYS,
    STEPS,
    check,
    first_missing,
    next_key,
    previous_key,
    step_number,
)
from actions.pdf import FilledForm, FontMissing, option_label, render_async
from actions.validators import Invalid, mask_iin, validate_iin
from knowledge.base import Entry
from nlu.entities import APPLICATION_NUMBER_RE
from nlu.normalize import fold
from nlu.pipeline import NLU
from storage.applications import ApplicantForm, Application, Applications
from storage.db import database_unavailable

log = logging.getLogger(__name__)

NAME = "app"
# Wrong IINs a citizen may give in a status lookup by number, over
# LOOKUP_WINDOW seconds: counted per citizen, whatever they press or type
# in between (a new lookup, /start, another flow), so an applicant's IIN
# cannot be guessed three tries at a time.
LOOKUP_TRIES = 3
LOOKUP_WINDOW = 6 * 3600.0
STATUS_LIST_MAX = 10
# Form steps that take free text, which a question ("...?") or a request
# ("позовите оператора") never is.
_TEXT_KINDS = frozenset({"name", "text", "optional"})
ESCAPE_INTENTS = frozenset(
    {
        "submit_application",
        "check_status",
        "request_operator",
        "book_queue",
        "cancel_booking",
        "my_bookings",
    }
)  # not switch_language: "Русский язык и литература" is a specialty
ESCAPE_CONFIDENCE = 0.9
# "Иванов Пётр Сергеевич", "Жұмабаева Әсел Серікқызы": two to five capitalised
# words is a name, whatever a classifier makes of it; never a request.
_CAP = "A-ZА-ЯЁӘҒҚҢӨҰҮҺІ"
_LOW = "a-zа-яёәғқңөұүһі"
_NAME_RE = re.compile(rf"[{_CAP}][{_LOW}'’-]+(?:\s+[{_CAP}][{_LOW}'’-]+){{1,4}}")
ESCAPE_MAX_LEN = 80
# Before consent nothing is entered: any message understood as more than
# yes / no / small talk is answered, and the form waits.
NOT_A_QUESTION = frozenset({"affirm", "deny", "greet", "thank", "help", "nlu_fallback"})
QUESTION_CONFIDENCE = 0.45
# Before consent, this many words with a question word are a question.
QUESTION_WORDS = 3


# Reply carries the file itself now (Reply.document); kept for readability.
DocumentReply = Reply


class LookupTries:
    """Wrong IINs per citizen in a sliding window (process memory: with
    several workers each counts its own, which bounds the guesses all the
    same). Times are the assistant's clock, in seconds."""

    def __init__(
        self, limit: int = LOOKUP_TRIES, window: float = LOOKUP_WINDOW, max_users: int = 50_000
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_users = max_users
        self._failed: dict[int, deque[float]] = {}

    def _recent(self, user_id: int, now: float) -> deque[float]:
        times = self._failed.get(user_id)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            self._failed.pop(user_id, None)
        return times

    def blocked(self, user_id: int, now: float) -> bool:
        return len(self._recent(user_id, now)) >= self.limit

    def failed(self, user_id: int, now: float) -> int:
        """Count a wrong IIN; how many in the window now."""
        times = self._recent(user_id, now)
        if not times:
            if len(self._failed) >= self.max_users:
                for old in [u for u, ts in self._failed.items() if now - ts[-1] >= self.window]:
                    del self._failed[old]
                if len(self._failed) >= self.max_users:
                    self._failed.pop(next(iter(self._failed)))
            self._failed[user_id] = times
        times.append(now)
        return len(times)


class ApplicationFlow:
    name = NAME
    intents = frozenset({"submit_application", "check_status"})

    def __init__(self, applications: Applications, nlu: NLU | None = None) -> None:
        self.applications = applications
        # Optional: to notice "call an operator" typed where a name is expected.
        self.nlu = nlu
        self.lookup_tries = LookupTries()

    # -- Flow protocol -------------------------------------------------------------------
    async def on_intent(self, ctx: FlowContext, intent: str) -> Outcome:
        if intent == "check_status":
            return await self._status_intent(ctx)
        service = ctx.parsed.entity("service") if ctx.parsed else None
        service = service or ctx.conv.last_service
        if service in ("grant", "social_support"):
            return self._grant_info(ctx, intent)
        if self._form(ctx) is not None:
            return self._resume(ctx, intent)
        return self._begin(ctx, intent)

    async def on_button(self, ctx: FlowContext, payload: str) -> Outcome:
        parts = payload.split(":")
        verb = parts[1] if len(parts) > 1 else ""
        args = parts[2:]
        if verb == "start":
            return self._resume(ctx) if self._form(ctx) else self._begin(ctx)
        if verb == "grant":
            return self._grant_info(ctx)
        if verb == "status":
            return await self._my_applications(ctx)
        if verb == "lookup":
            if args == ["cancel"]:
                self._put(ctx, "lookup", None)
                return ctx.outcome(
                    [self._after_lookup(ctx, ctx.t(ctx.lang, "intake-lookup-cancelled"))]
                )
            return self._lookup_start(ctx)
        form = self._form(ctx)
        if form is None:
            return self._closed(ctx)
        if verb == "consent" and form["step"] == "consent":
            return self._consent(ctx, form, args == ["yes"])
        if verb == "cancel":
            return self._cancel(ctx)
        if form["step"] == "consent":
            return self._resume(ctx)
        if verb == "back":
            return self._back(ctx, form)
        if verb == "resume":
            return self._resume(ctx)
        if verb == "summary":
            form["step"], form["editing"] = "summary", False
            return self._show(ctx, form)
        if verb == "edit":
            return self._edit(ctx, form, args[0] if args else None)
        if verb == "confirm":
            return await self._confirm(ctx, form)
        if verb in ("skip", "keep") and form["step"] in BY_KEY:
            step = BY_KEY[form["step"]]
            if verb == "skip" and step.optional:
                return self._accept(ctx, form, None)
            if verb == "keep" and step.key in form["data"]:
                return self._accept(ctx, form, form["data"][step.key])
        if (
            verb == "pick"
            and len(args) == 2
            and args[0] == form["step"]
            and args[1] in self._options(ctx, args[0])
        ):
            return self._accept(ctx, form, args[1])
        # A stale or forged button: ask the current question again.
        return self._show(ctx, form)

    async def on_text(self, ctx: FlowContext, text: str) -> Outcome | None:
        state = self._state(ctx)
        if "lookup" in state:
            return await self._lookup_text(ctx, text)
        form = state.get("form")
        if form is None:
            return None
        said = fold(text[:200])
        if said in self._words(ctx, "intake-words-cancel"):
            return self._cancel(ctx)
        if said in self._words(ctx, "intake-words-back"):
            return self._back(ctx, form)
        step_key = form["step"]
        if step_key == "consent":
            if said in self._words(ctx, "intake-words-yes"):
                return self._consent(ctx, form, True)
            if said in self._words(ctx, "intake-words-no"):
                return self._consent(ctx, form, False)
            if await self._is_question(text):
                # "позовите оператора", "а зачем ИИН?", "қандай құжаттар керек":
                # the assistant answers; nothing is entered yet, the form waits.
                return None
            return self._show(ctx, form, ctx.t(ctx.lang, "intake-err-use-buttons"))
        if step_key not in BY_KEY:  # summary / choosing what to edit
            if text.rstrip().endswith("?"):
                return None  # a question: the assistant answers, the form waits
            return self._show(ctx, form, ctx.t(ctx.lang, "intake-err-use-buttons"))
        step = BY_KEY[step_key]
        if step.optional and said in self._words(ctx, "intake-words-skip"):
            return self._accept(ctx, form, None)
        if step.is_choice:
            picked = self._match_option(ctx, step.key, text)
            if picked is None:
                return self._show(ctx, form, ctx.t(ctx.lang, "intake-err-pick"))
            return self._accept(ctx, form, picked)
        if (
            step.kind in _TEXT_KINDS
            and not (step.kind == "name" and _NAME_RE.fullmatch(text.strip()))
            and await self._is_request(text)
        ):
            return None  # the assistant answers; the form waits at this step
        try:
            value = check(step, text, ctx.clock().date())
        except Invalid as bad:
            return self._show(ctx, form, ctx.t(ctx.lang, bad.key, **bad.args_))
        return self._accept(ctx, form, value)

    # -- state ---------------------------------------------------------------------------------
    def _state(self, ctx: FlowContext) -> dict[str, Any]:
        return ctx.conv.flow_data if ctx.conv.flow == NAME else {}

    def _form(self, ctx: FlowContext) -> dict[str, Any] | None:
        form = self._state(ctx).get("form")
        return form if isinstance(form, dict) else None

    def _put(self, ctx: FlowContext, key: str, value: dict[str, Any] | None) -> None:
        data = dict(self._state(ctx))
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
        if data:
            ctx.start(NAME, data)
        elif ctx.conv.flow == NAME:
            ctx.finish()

    async def _is_request(self, text: str) -> bool:
        """A question or a request typed where a name or a text is expected."""
        if len(text) > ESCAPE_MAX_LEN:
            return False
        if text.rstrip().endswith("?"):
            return True
        if self.nlu is None:
            return False
        parsed = await self.nlu.parse(text)
        return parsed.intent in ESCAPE_INTENTS and parsed.confidence >= ESCAPE_CONFIDENCE

    async def _is_question(self, text: str) -> bool:
        """Before consent: a question, or anything the assistant understands
        other than yes / no / small talk (a request among them)."""
        if len(text) > ESCAPE_MAX_LEN * 3:
            return False
        if text.rstrip().endswith("?"):
            return True
        folded = fold(text)
        # "bitirgen zhylym men mamandyǵymdy korsetu kerek pe": asked without a
        # question mark, in words the model is not sure of.
        worded = len(folded.split()) >= QUESTION_WORDS and QUESTION_RE.search(folded) is not None
        if self.nlu is None:
            return worded
        parsed = await self.nlu.parse(text)
        if parsed.intent in ("affirm", "deny") and parsed.confidence >= QUESTION_CONFIDENCE:
            return False  # "жоқ, керек емес": an answer to the consent, not a question
        if worded:
            return True
        return parsed.intent not in NOT_A_QUESTION and parsed.confidence >= QUESTION_CONFIDENCE

    def _words(self, ctx: FlowContext, key: str) -> set[str]:
        # Either language's words: a citizen may type "отмена" in a Kazakh chat.
        return {fold(w) for lang in LANGS for w in ctx.t(lang, key).split(",") if w.strip()}

    # -- the form ------------------------------------------------------------------------------
    def _begin(self, ctx: FlowContext, intent: str | None = None) -> Outcome:
        form = {"step": "consent", "data": {}, "editing": False, "token": secrets.token_hex(16)}
        self._put(ctx, "form", form)
        t, lang = ctx.t, ctx.lang
        text = t(lang, "intake-intro", steps=len(STEPS)) + "\n\n" + t(lang, "intake-consent")
        buttons = [
            [
                Button(t(lang, "intake-btn-consent-yes"), "app:consent:yes"),
                Button(t(lang, "intake-btn-consent-no"), "app:consent:no"),
            ],
            [Button(t(lang, "intake-btn-grant"), "app:grant")],
        ]
        return ctx.outcome([Reply(text, buttons)], intent or "submit_application")

    def _resume(self, ctx: FlowContext, intent: str | None = None) -> Outcome:
        form = self._form(ctx)
        if form is None:
            return self._begin(ctx, intent)
        if form["step"] == "consent":
            self._put(ctx, "form", None)
            return self._begin(ctx, intent)
        return self._show(ctx, form, ctx.t(ctx.lang, "intake-resumed"), intent=intent)

    def _consent(self, ctx: FlowContext, form: dict[str, Any], agreed: bool) -> Outcome:
        t, lang = ctx.t, ctx.lang
        if not agreed:
            self._put(ctx, "form", None)
            text = (
                t(lang, "intake-no-consent")
                + "\n\n"
                + self._entries(ctx, ctx.kb.find("ask_where_to_apply", "duplicate"))
            )
            buttons = [
                [Button(t(lang, "topic-ask_documents"), "ask:ask_documents:duplicate")],
                [Button(t(lang, "btn-menu"), "menu")],
            ]
            return ctx.outcome([Reply(text, buttons)], "deny")
        form["step"] = STEPS[0].key
        self._put(ctx, "form", form)
        return self._show(ctx, form, t(lang, "intake-consent-thanks"), intent="affirm")

    def _accept(self, ctx: FlowContext, form: dict[str, Any], value: Any) -> Outcome:
        key = form["step"]
        form["data"][key] = value
        if form.get("editing"):
            form["step"], form["editing"] = "summary", False
        else:
            form["step"] = next_key(key) or "summary"
            if form["step"] == "summary" and first_missing(form["data"]):
                form["step"] = first_missing(form["data"])
        self._put(ctx, "form", form)
        return self._show(ctx, form)

    def _back(self, ctx: FlowContext, form: dict[str, Any]) -> Outcome:
        step = form["step"]
        if form.get("editing") or step == "edit":
            form["step"], form["editing"] = "summary", False
        elif step == "summary":
            form["step"] = KEYS[-1]
        elif step in BY_KEY:
            previous = previous_key(step)
            if previous is None:
                self._put(ctx, "form", None)
                return self._begin(ctx)
            form["step"] = previous
        self._put(ctx, "form", form)
        return self._show(ctx, form)

    def _edit(self, ctx: FlowContext, form: dict[str, Any], key: str | None) -> Outcome:
        if key in BY_KEY:
            form["step"], form["editing"] = key, True
        else:
            form["step"], form["editing"] = "edit", False
        self._put(ctx, "form", form)
        return self._show(ctx, form)

    def _cancel(self, ctx: FlowContext) -> Outcome:
        self._put(ctx, "form", None)
        t, lang = ctx.t, ctx.lang
        buttons = [
            [Button(t(lang, "intake-btn-start"), "app:start")],
            [Button(t(lang, "btn-menu"), "menu")],
        ]
        return ctx.outcome([Reply(t(lang, "intake-cancelled"), buttons)], "cancel")

    def _closed(self, ctx: FlowContext) -> Outcome:
        t, lang = ctx.t, ctx.lang
        buttons = [
            [Button(t(lang, "btn-status"), "app:status")],
            [Button(t(lang, "intake-btn-start"), "app:start"), Button(t(lang, "btn-menu"), "menu")],
        ]
        return ctx.outcome([Reply(t(lang, "intake-form-closed"), buttons)])

    # -- what the citizen sees -----------------------------------------------------------------
    def _show(
        self,
        ctx: FlowContext,
        form: dict[str, Any],
        note: str | None = None,
        *,
        intent: str | None = None,
    ) -> Outcome:
        step = form["step"]
        if step == "consent":
            return self._begin(ctx, intent)
        if step == "summary":
            reply = self._summary(ctx, form)
        elif step == "edit":
            reply = self._edit_menu(ctx)
        else:
            reply = self._question(ctx, form)
        if note:
            reply.text = note + "\n\n" + reply.text
        return ctx.outcome([reply], intent)

    def _question(self, ctx: FlowContext, form: dict[str, Any]) -> Reply:
        t, lang = ctx.t, ctx.lang
        step = BY_KEY[form["step"]]
        data = form["data"]
        lines = [
            t(lang, "intake-step", n=step_number(step.key), total=len(STEPS)),
            t(lang, f"intake-ask-{step.key}"),
        ]
        if data.get(step.key) is not None:
            lines.append(
                t(lang, "intake-current", value=self._display(ctx, step.key, data[step.key]))
            )
        rows: list[list[Button]] = []
        if step.is_choice:
            rows += [
                [Button(label, f"app:pick:{step.key}:{key}")]
                for key, label in self._options(ctx, step.key).items()
            ]
        extra: list[Button] = []
        if step.optional:
            extra.append(Button(t(lang, "intake-btn-skip"), "app:skip"))
        if step.key in data and not step.is_choice:
            extra.append(Button(t(lang, "intake-btn-keep"), "app:keep"))
        if extra:
            rows.append(extra)
        back = (
            Button(t(lang, "intake-btn-summary"), "app:summary")
            if form.get("editing")
            else Button(t(lang, "intake-btn-back"), "app:back")
        )
        rows.append([back, Button(t(lang, "intake-btn-cancel"), "app:cancel")])
        return Reply("\n".join(lines), rows)

    def _summary(self, ctx: FlowContext, form: dict[str, Any]) -> Reply:
        t, lang = ctx.t, ctx.lang
        data = form["data"]
        lines = [t(lang, "intake-summary-title"), ""]
        for key in KEYS:
            value = data.get(key)
            shown = self._display(ctx, key, value) if value is not None else "—"
            lines.append(
                t(lang, "intake-summary-line", label=t(lang, f"intake-field-{key}"), value=shown)
            )
        lines += ["", t(lang, "intake-summary-question")]
        rows = [
            [Button(t(lang, "intake-btn-confirm"), "app:confirm")],
            [
                Button(t(lang, "intake-btn-edit"), "app:edit"),
                Button(t(lang, "intake-btn-cancel"), "app:cancel"),
            ],
        ]
        return Reply("\n".join(lines), rows)

    def _edit_menu(self, ctx: FlowContext) -> Reply:
        t, lang = ctx.t, ctx.lang
        rows = [[Button(t(lang, f"intake-field-{key}"), f"app:edit:{key}")] for key in KEYS]
        rows.append([Button(t(lang, "intake-btn-summary"), "app:summary")])
        return Reply(t(lang, "intake-edit-which"), rows)

    def _options(self, ctx: FlowContext, key: str) -> dict[str, str]:
        """Option key -> button label, in the form's own wording."""
        lang, form = ctx.lang, ctx.kb.form
        if key == "reason":
            return {o.key: _capital(o.label[lang]) for o in form.reasons}
        if key == "requested":
            return {o.key: _capital(o.label[lang]) for o in form.requested}
        if key == "channel":
            return {c: _capital(ctx.t(lang, f"channel-{c}")) for c in CHANNEL_CHOICES}
        return {}

    def _match_option(self, ctx: FlowContext, key: str, text: str) -> str | None:
        options = self._options(ctx, key)
        said = fold(text[:200])
        if said.isascii() and said.isdigit() and 1 <= int(said) <= len(options):
            return list(options)[int(said) - 1]
        if len(said) < 3:
            return None
        hits = [k for k, label in options.items() if said in fold(label) or fold(label) in said]
        return hits[0] if len(hits) == 1 else None

    def _display(self, ctx: FlowContext, key: str, value: Any) -> str:
        if BY_KEY[key].is_choice:
            return self._options(ctx, key).get(str(value), str(value))
        return str(value)

    # -- confirmation -----------------------------------------------------------------------
    async def _confirm(self, ctx: FlowContext, form: dict[str, Any]) -> Outcome:
        data = form["data"]
        missing = first_missing(data)
        if missing is not None:
            form["step"], form["editing"] = missing, False
            self._put(ctx, "form", form)
            return self._show(ctx, form)
        t, lang, kb = ctx.t, ctx.lang, ctx.kb
        applicant = ApplicantForm(
            university_head_name=data["university_head_name"],
            specialty=data["specialty"],
            university=data["university"],
            graduation_year=int(data["graduation_year"]),
            applicant_name=data["applicant_name"],
            iin=data["iin"],
            phone=data["phone"],
            reason=data["reason"],
            requested=data["requested"],
            university_new=data.get("university_new"),
        )
        now = ctx.clock()
        channel = data["channel"]
        due = ctx.calendar.duplicate_due_date(channel, now).due

        async def document(app: Application) -> bytes | None:
            filled = FilledForm(
                number=app.number,
                university_head_name=applicant.university_head_name,
                specialty=applicant.specialty,
                university=applicant.university,
                graduation_year=applicant.graduation_year,
                applicant_name=applicant.applicant_name,
                iin=applicant.iin,
                phone=applicant.phone,
                university_new=applicant.university_new,
                reason=applicant.reason,
                requested=applicant.requested,
                submitted=now.date(),
            )
            try:
                title = kb.standard_title(kb.form.standard, lang)
                return await render_async(kb.form, filled, lang, t, title)
            except FontMissing:
                log.error("application %s: no PDF, font missing", app.number, exc_info=True)
                return None

        try:
            app = await self.applications.create(
                applicant,
                user_id=ctx.user_id,
                lang=lang,
                channel=channel,
                due_date=due,
                token=form["token"],
                now=now,
                document=document,
            )
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            # One transaction: nothing was written (or a COMMIT cut off on its
            # way was, and the token finds it). The form stays, with its
            # token, so "confirm" again creates the application once.
            log.warning("application not created: the database is unavailable")
            form["step"], form["editing"] = "summary", False
            self._put(ctx, "form", form)
            return self._show(ctx, form, t(lang, "intake-db-down"))
        self._put(ctx, "form", None)
        log.info("application %s confirmed, applicant %s", app.number, mask_iin(applicant.iin))
        text = "\n\n".join(
            [
                t(
                    lang,
                    "intake-done",
                    number=app.number,
                    status=t(lang, "intake-status-received"),
                    phone=applicant.phone,
                    due=_fmt_date(app.due_date),
                    channel=t(lang, f"channel-{channel}"),
                ),
                t(lang, "intake-bring")
                + "\n"
                + self._entries(ctx, kb.find("ask_documents", "duplicate", channel)),
                t(lang, "intake-done-status"),
            ]
        )
        buttons = [
            [Button(t(lang, "btn-status"), "app:status"), Button(t(lang, "btn-menu"), "menu")]
        ]
        replies: list[Reply] = [Reply(text, buttons)]
        if app.pdf:
            replies.append(
                DocumentReply(
                    t(lang, "intake-pdf-caption", number=app.number),
                    document=(app.pdf_name, app.pdf),
                )
            )
        return ctx.outcome(replies, "submit_application")

    # -- grants are not applied for here ------------------------------------------------------
    def _grant_info(self, ctx: FlowContext, intent: str | None = None) -> Outcome:
        t, lang = ctx.t, ctx.lang
        text = (
            t(lang, "intake-grant-elsewhere")
            + "\n\n"
            + self._entries(ctx, ctx.kb.find("ask_where_to_apply", "grant"))
        )
        buttons = [
            [Button(t(lang, "topic-ask_documents"), "ask:ask_documents:grant")],
            [Button(t(lang, "intake-btn-duplicate"), "app:start")],
            [Button(t(lang, "btn-menu"), "menu")],
        ]
        return ctx.outcome([Reply(text, buttons)], intent or "submit_application")

    # -- status ---------------------------------------------------------------------------------
    async def _status_intent(self, ctx: FlowContext) -> Outcome:
        number = ctx.parsed.entity("application_number") if ctx.parsed else None
        if number is None:
            return await self._my_applications(ctx)
        iin = ctx.parsed.entity("iin") if ctx.parsed else None
        lookup = {"step": "number"}
        self._put(ctx, "lookup", lookup)
        outcome = await self._lookup_number(ctx, lookup, number)
        if iin is not None and (self._state(ctx).get("lookup") or {}).get("step") == "iin":
            return await self._lookup_text(ctx, iin)
        return outcome

    async def _my_applications(self, ctx: FlowContext) -> Outcome:
        t, lang = ctx.t, ctx.lang
        apps = await self.applications.for_user(ctx.user_id)
        rows: list[list[Button]] = []
        if apps:
            parts = [t(lang, "intake-status-title")]
            parts += [self._describe(ctx, app) for app in apps[:STATUS_LIST_MAX]]
            text = "\n\n".join(parts)
        else:
            # What the standard says of checking one's status, for the
            # service asked about (the grant's standard for a grant).
            service = ctx.parsed.entity("service") if ctx.parsed else None
            service = service or ctx.conv.last_service
            if service not in ctx.kb.services_for("check_status"):
                service = "duplicate"
            entries = ctx.kb.find("check_status", service)
            text = (
                t(lang, "intake-status-none", service=service)
                + "\n\n"
                + self._entries(ctx, entries)
            )
            units = [e.id for e in entries]
        if self._form(ctx) is not None:
            text += "\n\n" + t(lang, "intake-form-open")
            rows.append([Button(t(lang, "intake-btn-resume"), "app:resume")])
        else:
            rows.append([Button(t(lang, "intake-btn-start"), "app:start")])
        rows.append([Button(t(lang, "intake-btn-lookup"), "app:lookup")])
        rows.append([Button(t(lang, "btn-menu"), "menu")])
        outcome = ctx.outcome([Reply(text, rows)], "check_status")
        if not apps:
            outcome.units = units
        return outcome

    def _describe(self, ctx: FlowContext, app: Application) -> str:
        t, lang = ctx.t, ctx.lang
        lines = [
            t(
                lang,
                "intake-status-line",
                number=app.number,
                status=t(lang, f"intake-status-{app.status}"),
                requested=option_label(ctx.kb.form.requested, app.requested, lang),
                created=_fmt_date(app.created_at.date()),
                due=_fmt_date(app.due_date),
            )
        ]
        if app.pickup_place and app.status in ("ready", "issued"):
            lines.append(t(lang, "intake-status-place", place=app.pickup_place))
        if app.reject_reason and app.status == "rejected":
            lines.append(t(lang, "intake-status-reason", reason=app.reject_reason))
        return "\n".join(lines)

    def _lookup_start(self, ctx: FlowContext) -> Outcome:
        if self.lookup_tries.blocked(ctx.user_id, ctx.clock().timestamp()):
            return self._lookup_locked(ctx)
        self._put(ctx, "lookup", {"step": "number"})
        return ctx.outcome([self._lookup_question(ctx, "intake-lookup-ask-number")], "check_status")

    def _lookup_locked(self, ctx: FlowContext) -> Outcome:
        """Too many wrong IINs lately: no lookup by number for now."""
        self._put(ctx, "lookup", None)
        text = ctx.t(ctx.lang, "intake-lookup-locked")
        return ctx.outcome([self._after_lookup(ctx, text)], "check_status")

    def _lookup_question(self, ctx: FlowContext, key: str, note: str | None = None) -> Reply:
        t, lang = ctx.t, ctx.lang
        text = t(lang, key) if note is None else note + "\n\n" + t(lang, key)
        return Reply(text, [[Button(t(lang, "intake-btn-cancel"), "app:lookup:cancel")]])

    async def _lookup_text(self, ctx: FlowContext, text: str) -> Outcome:
        lookup = self._state(ctx)["lookup"]
        said = fold(text[:200])
        if said in self._words(ctx, "intake-words-cancel"):
            self._put(ctx, "lookup", None)
            return ctx.outcome(
                [self._after_lookup(ctx, ctx.t(ctx.lang, "intake-lookup-cancelled"))]
            )
        if lookup.get("step") == "iin":
            return await self._lookup_iin(ctx, lookup, text)
        match = APPLICATION_NUMBER_RE.search(text[:500])
        if match is None:
            note = ctx.t(ctx.lang, "intake-lookup-bad-number")
            return ctx.outcome([self._lookup_question(ctx, "intake-lookup-ask-number", note)])
        return await self._lookup_number(ctx, lookup, match.group(1))

    async def _lookup_number(
        self, ctx: FlowContext, lookup: dict[str, Any], number: str
    ) -> Outcome:
        number = number.upper()
        app = await self.applications.lookup(number, user_id=ctx.user_id)
        if app is not None:
            self._put(ctx, "lookup", None)
            return ctx.outcome([self._after_lookup(ctx, self._describe(ctx, app))], "check_status")
        if self.lookup_tries.blocked(ctx.user_id, ctx.clock().timestamp()):
            return self._lookup_locked(ctx)
        lookup.update(step="iin", number=number)
        self._put(ctx, "lookup", lookup)
        return ctx.outcome([self._lookup_question(ctx, "intake-lookup-ask-iin")], "check_status")

    async def _lookup_iin(self, ctx: FlowContext, lookup: dict[str, Any], text: str) -> Outcome:
        t, lang = ctx.t, ctx.lang
        try:
            iin = validate_iin(text, ctx.clock().date())
        except Invalid as bad:
            note = t(lang, bad.key, **bad.args_)
            return ctx.outcome([self._lookup_question(ctx, "intake-lookup-ask-iin", note)])
        number = str(lookup.get("number", ""))
        now = ctx.clock().timestamp()
        if self.lookup_tries.blocked(ctx.user_id, now):
            return self._lookup_locked(ctx)
        app = await self.applications.lookup(number, user_id=ctx.user_id, iin=iin)
        if app is not None:
            self._put(ctx, "lookup", None)
            return ctx.outcome([self._after_lookup(ctx, self._describe(ctx, app))], "check_status")
        tries = self.lookup_tries.failed(ctx.user_id, now)
        log.info("status lookup of %s refused (try %d)", number, tries)
        if tries >= LOOKUP_TRIES:
            self._put(ctx, "lookup", None)
            return ctx.outcome([self._after_lookup(ctx, t(lang, "intake-lookup-too-many"))])
        lookup["step"] = "number"
        self._put(ctx, "lookup", lookup)
        note = t(lang, "intake-lookup-not-found")
        return ctx.outcome([self._lookup_question(ctx, "intake-lookup-ask-number", note)])

    def _after_lookup(self, ctx: FlowContext, text: str) -> Reply:
        t, lang = ctx.t, ctx.lang
        rows = [[Button(t(lang, "btn-status"), "app:status")]]
        if self._form(ctx) is not None:
            text += "\n\n" + t(lang, "intake-form-open")
            rows.append([Button(t(lang, "intake-btn-resume"), "app:resume")])
        rows.append([Button(t(lang, "btn-operator"), "op"), Button(t(lang, "btn-menu"), "menu")])
        return Reply(text, rows)

    # -- knowledge -------------------------------------------------------------------------------
    def _entries(self, ctx: FlowContext, entries: Sequence[Entry]) -> str:
        """Knowledge entries with the clauses they come from."""
        lang = ctx.lang
        parts = [e.text[lang].strip() for e in entries]
        cites: list[str] = []
        for e in entries:
            if e.citation is not None:
                line = ctx.t(lang, "cite-short", cite=e.citation.short(lang, ctx.kb))
                if line not in cites:
                    cites.append(line)
        return "\n\n".join(parts + (["\n".join(cites)] if cites else []))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fmt_date(d: Any) -> str:
    return str(d.strftime("%d.%m.%Y"))
