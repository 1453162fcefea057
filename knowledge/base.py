"""The knowledge base: what order No. 654 of 24.11.2015 says about the two services.

Facts live in ``data/knowledge/*.yml`` (edited by non-programmers); this module
loads them, validates them strictly and answers lookups by intent, service and
channel. Nothing is read at import time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml

log = logging.getLogger(__name__)
_T = TypeVar("_T")

__all__ = [
    "CHANNELS",
    "INTENTS",
    "LANGS",
    "ORDER_STANDARD",
    "SERVICES",
    "Act",
    "ActRef",
    "ApplicationForm",
    "Citation",
    "Entry",
    "FormField",
    "FormOption",
    "KnowledgeBase",
    "KnowledgeError",
]

LANGS: tuple[str, ...] = ("kk", "ru")
SERVICES: frozenset[str] = frozenset({"duplicate", "grant", "social_support"})
CHANNELS: frozenset[str] = frozenset({"provider", "psc", "portal"})
# Every intent named in data/nlu/INTENTS.md (the contract); entries may only use these.
INTENTS: frozenset[str] = frozenset(
    {
        "greet", "goodbye", "thank", "help", "switch_language", "affirm", "deny",
        "out_of_scope",
        "ask_documents", "ask_where_to_apply", "ask_schedule", "ask_processing_time",
        "ask_application_period", "ask_result", "ask_application_form", "complaint",
        "ask_eds", "ask_university_closed", "ask_representative", "ask_pickup",
        "ask_home_visit", "ask_contacts", "ask_queue_rules",
        "book_queue", "cancel_booking", "my_bookings", "check_status",
        "submit_application", "request_operator",
        "ask_fee", "ask_refusal", "ask_legal_basis",
    }
)  # fmt: skip
# The key in source.yml `standards` that stands for the order text itself.
ORDER_STANDARD = "order"

SOURCE_FILE = "source.yml"
FORM_FILE = "appendix1.yml"

_ID_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# "9", or several points "5, 6"; an appendix of the order is cited as "1-қосымша".
_CLAUSE_RE = re.compile(r"^\d+(, \d+)*$")
_APPENDIX_RE = re.compile(r"^(\d+)-қосымша$")
# Sub-point reference inside a clause: "1)" or a range "1)-2)".
_SUBPOINT_RE = re.compile(r"^(\d+)\)(?:-(\d+)\))?$")
_PARAGRAPH_RE = re.compile(r"^(\d+)-абзац$")
_QUOTED_RE = re.compile(r"«(.+)»")

# Words allowed in a citation's `sub` besides sub-points, written as in the
# seed (Kazakh), with their Russian rendering.
_SUB_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "көрсетілетін қызметті берушіге": "услугодатель",
        "ХҚО-ға": "ЦОН",
        "порталда": "портал",
        "әлеуметтік қолдау": "социальная поддержка",
        "соңғы абзац": "последний абзац",
    }
)

# Short names of the standards for the citation under an answer on a phone.
_SHORT_NAMES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "duplicate": {"kk": "телнұсқа стандарты", "ru": "стандарт «Дубликаты»"},
        "grant": {"kk": "грант стандарты", "ru": "стандарт «Гранты»"},
    }
)

# A word beginning as the NLU folds text: lower case, Kazakh letters as the
# Russian ones they look like (nlu.normalize.fold).
_FOLDED_RE = re.compile(r"^[a-zа-яё0-9][a-zа-яё0-9 -]*$")
_ENTRY_KEYS = frozenset(
    {
        "id",
        "intents",
        "services",
        "channels",
        "cite",
        "text",
        "unknown",
        "staff",
        "detail",
        "ask",
        "states",
        "needs",
        "when",
    }
)
# The calendar's notes under a worked deadline (knowledge/calendar.py): a unit
# whose own text states one (`states:`) does not get it again below.
CALENDAR_NOTES = frozenset(
    {"psc_acceptance_day_not_counted", "moved_to_next_working_day", "due_falls_on_non_working_day"}
)
_CITE_KEYS = frozenset({"standard", "clause", "sub"})


class KnowledgeError(ValueError):
    """The knowledge files are missing, malformed or inconsistent."""

    def __init__(self, source: Path | str, message: str, entry_id: str | None = None) -> None:
        self.source = str(source)
        self.entry_id = entry_id
        where = self.source if entry_id is None else f"{self.source} [{entry_id}]"
        super().__init__(f"{where}: {message}")


def _service_channels(entries: Iterable[Entry]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for entry in entries:
        for service in entry.services:
            found.setdefault(service, set()).update(entry.channels)
    return {service: frozenset(channels) for service, channels in found.items()}


def _frozen_text(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Citation:
    """Where a fact comes from: a clause of a standard (as amended) or of the order."""

    standard: str
    clause: str
    sub: str | None = None

    @property
    def clauses(self) -> tuple[str, ...]:
        """The point numbers cited, e.g. ("5", "6"); an appendix gives its number."""
        appendix = _APPENDIX_RE.match(self.clause)
        if appendix:
            return (appendix.group(1),)
        return tuple(part.strip() for part in self.clause.split(","))

    @property
    def is_appendix(self) -> bool:
        return _APPENDIX_RE.match(self.clause) is not None

    def render(self, lang: str, kb: KnowledgeBase) -> str:
        """Human-readable reference, e.g. "п. 9 (ЦОН, пп. 1-2) стандарта «…», в ред. …"."""
        _check_lang(lang)
        act = kb.act
        act_date = act.date.strftime("%d.%m.%Y")
        sub = f" ({_render_sub(self.sub, lang)})" if self.sub else ""
        numbers = self.clauses
        if lang == "ru":
            order_ref = f"приказа МОН РК № {act.number} от {act_date}"
            if self.standard == ORDER_STANDARD:
                if self.is_appendix:
                    return f"приложение {numbers[0]} к приказу МОН РК № {act.number} от {act_date}"
                return f"{_points_ru(numbers)}{sub} {order_ref}"
            name = _quoted_name(kb.standard_title(self.standard, "ru"))
            return f"{_points_ru(numbers)}{sub} стандарта «{name}», в ред. {order_ref}"
        order_ref = f"ҚР Білім және ғылым министрінің {act_date} № {act.number} бұйрығы"
        if self.standard == ORDER_STANDARD:
            if self.is_appendix:
                return f"{order_ref}на {numbers[0]}-қосымша"
            return f"{order_ref}ның {_points_kk(numbers)}{sub}"
        points = _points_kk(numbers)
        if (
            self.sub
            and len(numbers) == 1
            and all(_SUBPOINT_RE.match(part) for part in _sub_parts(self.sub))
        ):
            # "4-тармағының 1) тармақшасы" reads better than "4-тармағы (1) тармақшасы)".
            points, sub = f"{points}ның {_render_sub(self.sub, lang)}", ""
        name = _quoted_name(kb.standard_title(self.standard, "kk"))
        return (
            f"«{name}» мемлекеттік көрсетілетін қызмет стандартының "
            f"{points}{sub} ({order_ref}мен енгізілген редакцияда)"
        )

    def short(self, lang: str, kb: KnowledgeBase) -> str:
        """The citation for a phone screen: "№ 654 бұйрық, телнұсқа стандарты, 9-т."."""
        _check_lang(lang)
        number = kb.act.number
        numbers = self.clauses
        subs = [p for p in _sub_parts(self.sub or "") if _SUBPOINT_RE.match(p)]
        if lang == "ru":
            order = f"приказ № {number}"
            if self.is_appendix:
                return f"{order}, прил. {numbers[0]}"
            where = ("п. " if len(numbers) == 1 else "пп. ") + ", ".join(numbers)
            if subs and len(numbers) == 1:
                where += ", подп. " + ", ".join(subs)
            if self.standard == ORDER_STANDARD:
                return f"{order}, {where}"
            return f"{order}, {_SHORT_NAMES[self.standard]['ru']}, {where}"
        order = f"№ {number} бұйрық"
        if self.is_appendix:
            return f"{order}, {numbers[0]}-қосымша"
        where = ", ".join(numbers) + "-т."
        if subs and len(numbers) == 1:
            where += " " + ", ".join(subs) + " тармақша"
        if self.standard == ORDER_STANDARD:
            return f"{order}, {where}"
        return f"{order}, {_SHORT_NAMES[self.standard]['kk']}, {where}"


def _points_ru(numbers: tuple[str, ...]) -> str:
    if len(numbers) == 1:
        return f"п. {numbers[0]}"
    return "пункты " + ", ".join(numbers)


def _points_kk(numbers: tuple[str, ...]) -> str:
    if len(numbers) == 1:
        return f"{numbers[0]}-тармағы"
    return ", ".join(numbers) + "-тармақтары"


def _quoted_name(title: str) -> str:
    match = _QUOTED_RE.search(title)
    return match.group(1) if match else title


def _sub_parts(sub: str) -> list[str]:
    return [part.strip() for part in sub.split(",") if part.strip()]


def _sub_problem(sub: str) -> str | None:
    """Why `sub` cannot be rendered, or None when every part is understood."""
    parts = _sub_parts(sub)
    if not parts:
        return "empty `sub`"
    for part in parts:
        if not (_SUBPOINT_RE.match(part) or _PARAGRAPH_RE.match(part) or part in _SUB_WORDS):
            known = ", ".join(sorted(_SUB_WORDS))
            return f"unknown `sub` part {part!r} (use '1)', '1)-2)', 'N-абзац' or one of: {known})"
    return None


def _render_sub(sub: str, lang: str) -> str:
    rendered: list[str] = []
    for part in _sub_parts(sub):
        subpoint = _SUBPOINT_RE.match(part)
        paragraph = _PARAGRAPH_RE.match(part)
        if subpoint:
            first, last = subpoint.group(1), subpoint.group(2)
            if lang == "ru":
                rendered.append(f"пп. {first}-{last}" if last else f"пп. {first}")
            else:
                rendered.append(f"{part} тармақшалары" if last else f"{part} тармақшасы")
        elif paragraph:
            rendered.append(f"абз. {paragraph.group(1)}" if lang == "ru" else part)
        else:
            rendered.append(_SUB_WORDS[part] if lang == "ru" else part)
    return ", ".join(rendered)


@dataclass(frozen=True)
class Entry:
    """One answer: for some intents and services, optionally for some channels."""

    id: str
    intents: tuple[str, ...]
    services: tuple[str, ...]
    channels: tuple[str, ...]
    text: Mapping[str, str] = field(hash=False)
    citation: Citation | None
    unknown: bool
    # A detail unit: one fact of the standard that answers a precise question
    # ("is the application signed with an EDS?"); never the default answer
    # for its (intent, service), chosen only when the question asks for it.
    detail: bool = False
    # Example questions per language (how a citizen would ask for this unit);
    # the unit ranker (actions/units.py) matches messages against them.
    ask: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    # The calendar notes (CALENDAR_NOTES) its text already states.
    states: frozenset[str] = frozenset()
    # A cited entry whose text also says the order is silent on part of the
    # question ("the addresses of the archives are not in the order").
    staff: bool = False
    # Word beginnings (folded) of which the message must have one for this
    # unit to answer it: the originals' deadline is not "when do I hand the
    # documents in?" unless the originals are named.
    needs: tuple[str, ...] = ()
    # A detail that answers "when?" of its topic ("когда принимают заявления на
    # грант?": 23-31 July), given instead of the topic's general answer when
    # the question asks when.
    when: bool = False

    @property
    def offers_staff(self) -> bool:
        """True when the answer leaves part of the question to a staff member:
        the bot then points at its operator button, not at a phone number."""
        return self.unknown or self.staff

    @property
    def is_general(self) -> bool:
        """True for the answer that holds for every channel."""
        return not self.channels and not self.detail


@dataclass(frozen=True)
class ActRef:
    number: str
    date: dt.date


@dataclass(frozen=True)
class Act:
    number: str
    date: dt.date
    registered: ActRef
    amends: ActRef
    repealed_by: ActRef
    title: Mapping[str, str] = field(hash=False)
    status: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True)
class FormOption:
    key: str
    label: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True)
class FormField:
    key: str
    label: Mapping[str, str] = field(hash=False)
    citation: Citation


@dataclass(frozen=True)
class ApplicationForm:
    """Appendix 1 to the duplicate standard: the application form."""

    title: Mapping[str, str] = field(hash=False)
    body: Mapping[str, str] = field(hash=False)
    standard: str
    citation: Citation
    fields: tuple[FormField, ...]
    reasons: tuple[FormOption, ...]
    requested: tuple[FormOption, ...]


class KnowledgeBase:
    """Validated entries plus the act, the standards and the application form."""

    def __init__(
        self,
        act: Act,
        standards: Mapping[str, Mapping[str, str]],
        entries: Iterable[Entry],
        form: ApplicationForm,
    ) -> None:
        self.act = act
        self._standards = MappingProxyType({k: _frozen_text(v) for k, v in standards.items()})
        self.entries: tuple[Entry, ...] = tuple(entries)
        self.form = form
        self._by_id = {entry.id: entry for entry in self.entries}
        self._service_channels = _service_channels(self.entries)
        self._source: tuple[Path, dict[str, float]] | None = None
        self._checked = 0.0
        # Why the last reload was refused (None once one succeeds): for the console.
        self.last_error: str | None = None
        self.last_error_at: float | None = None  # unix time

    # -- loading -------------------------------------------------------------

    @classmethod
    def load(cls, directory: Path | None = None) -> KnowledgeBase:
        """Read and validate every file in `directory` (default: <repo>/data/knowledge)."""
        directory = directory if directory is not None else default_directory()
        source_path = directory / SOURCE_FILE
        act, standards = _guarded(source_path, _load_source, source_path)
        form = _guarded(directory / FORM_FILE, _load_form, directory / FORM_FILE, standards)
        entry_files = sorted(
            path for path in directory.glob("*.yml") if path.name not in {SOURCE_FILE, FORM_FILE}
        )
        if not entry_files:
            raise KnowledgeError(directory, "no entry files (*.yml with `entries:`)")
        entries: list[Entry] = []
        seen_ids: dict[str, Path] = {}
        general: dict[tuple[str, str], str] = {}
        for path in entry_files:
            for entry in _guarded(path, _load_entries, path, standards):
                if entry.id in seen_ids:
                    raise KnowledgeError(
                        path, f"duplicate id (also in {seen_ids[entry.id].name})", entry.id
                    )
                seen_ids[entry.id] = path
                if entry.is_general:
                    for intent in entry.intents:
                        for service in entry.services:
                            other = general.get((intent, service))
                            if other is not None:
                                raise KnowledgeError(
                                    path,
                                    f"second general entry for ({intent}, {service}); "
                                    f"{other} already answers it",
                                    entry.id,
                                )
                            general[(intent, service)] = entry.id
                entries.append(entry)
        kb = cls(act, standards, entries, form)
        kb._source = (directory, _mtimes(directory))
        return kb

    def refresh(self, min_interval: float = 2.0) -> bool:
        """Reload in place when a file under the knowledge directory changed.

        Operators edit the YAML files while the bot runs; the next question
        gets the new text. A broken edit, whatever is wrong with it (bad
        YAML, another encoding, a wrong type anywhere, nesting too deep …),
        is refused: logged, kept in `last_error` (for the console), and the
        last good knowledge stays in use. Never raises. Checks at most every
        `min_interval` s.
        """
        source = self._source
        now = time.monotonic()
        if source is None or now - self._checked < min_interval:
            return False
        self._checked = now
        directory, known = source
        try:
            current = _mtimes(directory)
            if current == known:
                return False
            fresh = type(self).load(directory)
        except Exception as exc:
            # Not tried again until a file changes again.
            error = exc if isinstance(exc, KnowledgeError) else _unexpected(directory, exc)
            self.last_error = str(error)
            self.last_error_at = time.time()
            log.error("knowledge base not reloaded, keeping the previous one: %s", error)
            with contextlib.suppress(Exception):
                self._source = (directory, _mtimes(directory))
            return False
        self.act, self._standards, self.entries = fresh.act, fresh._standards, fresh.entries
        self.form, self._by_id, self._source = fresh.form, fresh._by_id, fresh._source
        self._service_channels = fresh._service_channels
        self.last_error = self.last_error_at = None
        log.info("knowledge base reloaded: %d entries", len(self.entries))
        return True

    # -- lookups -------------------------------------------------------------

    def find(
        self, intent: str, service: str | None = None, channel: str | None = None
    ) -> list[Entry]:
        """Answers for `intent`.

        With a service: the general entry, or with a channel the entries for
        that channel when there are any, else the general one. Without a
        service: the same for every service, each entry once.
        """
        if service is not None and service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        if channel is not None and channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        services = [service] if service is not None else sorted(SERVICES)
        found: list[Entry] = []
        for name in services:
            for entry in self._find_one(intent, name, channel):
                if entry not in found:
                    found.append(entry)
        return found

    def _find_one(self, intent: str, service: str, channel: str | None) -> list[Entry]:
        matching = [
            entry
            for entry in self.entries
            if intent in entry.intents and service in entry.services and not entry.detail
        ]
        if channel is not None:
            specific = [entry for entry in matching if channel in entry.channels]
            if specific:
                return specific
        return [entry for entry in matching if entry.is_general]

    def services_for(self, intent: str) -> set[str]:
        return {
            service
            for entry in self.entries
            if intent in entry.intents
            for service in entry.services
        }

    def channels_for(self, intent: str, service: str) -> set[str]:
        return {
            channel
            for entry in self.entries
            if intent in entry.intents and service in entry.services
            for channel in entry.channels
        }

    def service_channels(self, service: str) -> frozenset[str]:
        """Every channel that any answer of `service` names."""
        return self._service_channels.get(service, frozenset())

    def get(self, entry_id: str) -> Entry:
        try:
            return self._by_id[entry_id]
        except KeyError:
            raise KeyError(f"no knowledge entry {entry_id!r}") from None

    def standard_title(self, key: str, lang: str) -> str:
        _check_lang(lang)
        try:
            return self._standards[key][lang]
        except KeyError:
            raise KeyError(f"no standard {key!r}") from None

    @property
    def standards(self) -> Mapping[str, Mapping[str, str]]:
        return self._standards


def _mtimes(directory: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in sorted(directory.glob("*.yml"))}


def default_directory() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "knowledge"


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; expected one of {LANGS}")


# -- parsing helpers ---------------------------------------------------------


def _unexpected(source: Path | str, exc: BaseException) -> KnowledgeError:
    """A KnowledgeError for a failure no check foresaw (a list where a name
    belongs, say), naming the file."""
    detail = str(exc).splitlines()[0][:300] if str(exc) else ""
    return KnowledgeError(source, f"cannot be read ({type(exc).__name__}: {detail})")


def _guarded(path: Path, load: Callable[..., _T], *args: Any) -> _T:
    """`load(*args)`, any failure of which becomes a KnowledgeError naming `path`."""
    try:
        return load(*args)
    except KnowledgeError:
        raise
    except RecursionError as exc:
        raise KnowledgeError(path, "nested too deeply") from exc
    except Exception as exc:
        raise _unexpected(path, exc) from exc


def _read_yaml(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        raise KnowledgeError(path, "file not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KnowledgeError(path, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(
            path,
            f"not UTF-8 (byte {exc.start}): saved in another encoding (Windows-1251?); "
            "save it as UTF-8",
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KnowledgeError(path, f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise KnowledgeError(path, "nested too deeply") from exc
    if not isinstance(data, Mapping):
        raise KnowledgeError(path, "top level must be a mapping")
    return data


def _texts(value: Any, path: Path, what: str, entry_id: str | None = None) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise KnowledgeError(path, f"{what} must be a mapping with kk and ru", entry_id)
    extra = set(value) - set(LANGS)
    if extra:
        raise KnowledgeError(path, f"{what} has unknown languages {sorted(extra)}", entry_id)
    result: dict[str, str] = {}
    for lang in LANGS:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise KnowledgeError(path, f"{what} is missing language {lang!r}", entry_id)
        result[lang] = text.strip()
    return _frozen_text(result)


def _date(value: Any, path: Path, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise KnowledgeError(path, f"{what} must be a date YYYY-MM-DD, got {value!r}")


def _act_ref(value: Any, path: Path, what: str) -> ActRef:
    if not isinstance(value, Mapping) or not isinstance(value.get("number"), str):
        raise KnowledgeError(path, f"{what} needs a quoted `number` and a `date`")
    return ActRef(number=value["number"], date=_date(value.get("date"), path, f"{what}.date"))


def _load_source(path: Path) -> tuple[Act, Mapping[str, Mapping[str, str]]]:
    data = _read_yaml(path)
    raw_act = data.get("act")
    if not isinstance(raw_act, Mapping):
        raise KnowledgeError(path, "missing `act`")
    number = raw_act.get("number")
    if not isinstance(number, str) or not number:
        raise KnowledgeError(path, "act.number must be a quoted string")
    act = Act(
        number=number,
        date=_date(raw_act.get("date"), path, "act.date"),
        registered=_act_ref(raw_act.get("registered"), path, "act.registered"),
        amends=_act_ref(raw_act.get("amends"), path, "act.amends"),
        repealed_by=_act_ref(raw_act.get("repealed_by"), path, "act.repealed_by"),
        title=_texts(raw_act.get("title"), path, "act.title"),
        status=_texts(raw_act.get("status"), path, "act.status"),
    )
    raw_standards = data.get("standards")
    if not isinstance(raw_standards, Mapping) or not raw_standards:
        raise KnowledgeError(path, "missing `standards`")
    standards = {
        str(key): _texts(value, path, f"standards.{key}") for key, value in raw_standards.items()
    }
    if ORDER_STANDARD not in standards:
        raise KnowledgeError(path, f"standards must include {ORDER_STANDARD!r} (the order itself)")
    return act, standards


def _citation(
    value: Any, path: Path, standards: Mapping[str, Any], entry_id: str | None
) -> Citation:
    if not isinstance(value, Mapping):
        raise KnowledgeError(path, "`cite` must be a mapping", entry_id)
    extra = set(value) - _CITE_KEYS
    if extra:
        raise KnowledgeError(path, f"`cite` has unknown keys {sorted(extra)}", entry_id)
    standard = value.get("standard")
    if standard not in standards:
        raise KnowledgeError(path, f"`cite` names unknown standard {standard!r}", entry_id)
    clause = value.get("clause")
    if isinstance(clause, int):
        clause = str(clause)
    if not isinstance(clause, str) or not (_CLAUSE_RE.match(clause) or _APPENDIX_RE.match(clause)):
        raise KnowledgeError(
            path,
            f"`cite.clause` must look like '9', '5, 6' or '1-қосымша', got {clause!r}",
            entry_id,
        )
    if _APPENDIX_RE.match(clause) and standard != ORDER_STANDARD:
        raise KnowledgeError(path, "an appendix is cited on the order standard", entry_id)
    sub = value.get("sub")
    if sub is not None:
        if not isinstance(sub, str):
            raise KnowledgeError(path, "`cite.sub` must be a string", entry_id)
        problem = _sub_problem(sub)
        if problem:
            raise KnowledgeError(path, problem, entry_id)
    return Citation(standard=str(standard), clause=clause, sub=sub)


def _names(
    value: Any, allowed: frozenset[str], path: Path, what: str, entry_id: str
) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise KnowledgeError(path, f"`{what}` must be a non-empty list", entry_id)
    for name in value:
        if name not in allowed:
            raise KnowledgeError(path, f"unknown {what[:-1]} {name!r}", entry_id)
    if len(set(value)) != len(value):
        raise KnowledgeError(path, f"`{what}` repeats a name", entry_id)
    return tuple(value)


def _load_entries(path: Path, standards: Mapping[str, Any]) -> list[Entry]:
    data = _read_yaml(path)
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise KnowledgeError(path, "expected a non-empty list under `entries:`")
    entries: list[Entry] = []
    for index, raw in enumerate(raw_entries):
        if not isinstance(raw, Mapping):
            raise KnowledgeError(path, f"entry #{index + 1} is not a mapping")
        entry_id = raw.get("id")
        if not isinstance(entry_id, str) or not _ID_RE.match(entry_id):
            raise KnowledgeError(
                path, f"entry #{index + 1}: `id` must be dotted lower-case, got {entry_id!r}"
            )
        extra = set(raw) - _ENTRY_KEYS
        if extra:
            raise KnowledgeError(path, f"unknown keys {sorted(extra)}", entry_id)
        unknown = raw.get("unknown", False)
        if not isinstance(unknown, bool):
            raise KnowledgeError(path, "`unknown` must be true or false", entry_id)
        detail = raw.get("detail", False)
        if not isinstance(detail, bool):
            raise KnowledgeError(path, "`detail` must be true or false", entry_id)
        staff = raw.get("staff", False)
        if not isinstance(staff, bool):
            raise KnowledgeError(path, "`staff` must be true or false", entry_id)
        if staff and unknown:
            raise KnowledgeError(path, "an `unknown: true` entry offers staff already", entry_id)
        ask = _examples(raw.get("ask"), path, entry_id)
        needs = raw.get("needs") or []
        if not isinstance(needs, list) or not all(
            isinstance(n, str) and _FOLDED_RE.match(n) for n in needs
        ):
            raise KnowledgeError(
                path, "`needs` lists word beginnings as folded (lower case, no әғқңөұүһі)", entry_id
            )
        states = raw.get("states") or []
        if not isinstance(states, list) or not set(states) <= CALENDAR_NOTES:
            raise KnowledgeError(
                path, f"`states` lists calendar notes, of {sorted(CALENDAR_NOTES)}", entry_id
            )
        when = raw.get("when", False)
        if not isinstance(when, bool) or (when and not detail):
            raise KnowledgeError(path, "`when: true` marks a `detail: true` unit", entry_id)
        if detail and not ask:
            raise KnowledgeError(path, "a `detail: true` unit needs `ask` examples", entry_id)
        raw_channels = raw.get("channels")
        channels = (
            ()
            if raw_channels is None
            else _names(raw_channels, CHANNELS, path, "channels", entry_id)
        )
        cite = raw.get("cite")
        if unknown and cite is not None:
            raise KnowledgeError(path, "an `unknown: true` entry has nothing to cite", entry_id)
        if not unknown and cite is None:
            raise KnowledgeError(path, "missing `cite` (or mark it `unknown: true`)", entry_id)
        entries.append(
            Entry(
                id=entry_id,
                intents=_names(raw.get("intents"), INTENTS, path, "intents", entry_id),
                services=_names(raw.get("services"), SERVICES, path, "services", entry_id),
                channels=channels,
                text=_texts(raw.get("text"), path, "text", entry_id),
                citation=None if cite is None else _citation(cite, path, standards, entry_id),
                unknown=unknown,
                detail=detail,
                ask=MappingProxyType(ask),
                states=frozenset(states),
                staff=staff,
                needs=tuple(needs),
                when=when,
            )
        )
    return entries


def _examples(value: Any, path: Path, entry_id: str) -> dict[str, tuple[str, ...]]:
    """`ask:` {kk: [...], ru: [...]}: example questions, both languages or none."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or set(value) != set(LANGS):
        raise KnowledgeError(path, "`ask` needs lists under both `kk` and `ru`", entry_id)
    out: dict[str, tuple[str, ...]] = {}
    for lang in LANGS:
        items = value[lang]
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(i, str) and i.strip() for i in items)
        ):
            raise KnowledgeError(path, f"`ask.{lang}` must be a list of questions", entry_id)
        out[lang] = tuple(i.strip() for i in items)
    return out


def _options(value: Any, path: Path, what: str) -> tuple[FormOption, ...]:
    if not isinstance(value, list) or not value:
        raise KnowledgeError(path, f"form.{what} must be a non-empty list")
    options: list[FormOption] = []
    for raw in value:
        if not isinstance(raw, Mapping) or not _KEY_RE.match(str(raw.get("key", ""))):
            raise KnowledgeError(path, f"form.{what}: every item needs a snake_case `key`")
        key = str(raw["key"])
        options.append(FormOption(key=key, label=_texts(raw.get("label"), path, f"{what}.{key}")))
    keys = [option.key for option in options]
    if len(set(keys)) != len(keys):
        raise KnowledgeError(path, f"form.{what} repeats a key")
    return tuple(options)


def _load_form(path: Path, standards: Mapping[str, Any]) -> ApplicationForm:
    data = _read_yaml(path)
    raw = data.get("form")
    if not isinstance(raw, Mapping):
        raise KnowledgeError(path, "missing `form`")
    standard = raw.get("standard")
    if standard not in standards or standard == ORDER_STANDARD:
        raise KnowledgeError(path, f"form.standard must name a service standard, got {standard!r}")
    raw_fields = raw.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise KnowledgeError(path, "form.fields must be a non-empty list")
    fields: list[FormField] = []
    for item in raw_fields:
        if not isinstance(item, Mapping) or not _KEY_RE.match(str(item.get("key", ""))):
            raise KnowledgeError(path, "form.fields: every field needs a snake_case `key`")
        key = str(item["key"])
        fields.append(
            FormField(
                key=key,
                label=_texts(item.get("label"), path, f"fields.{key}.label"),
                citation=_citation(item.get("cite"), path, standards, f"fields.{key}"),
            )
        )
    keys = [f.key for f in fields]
    if len(set(keys)) != len(keys):
        raise KnowledgeError(path, "form.fields repeats a key")
    return ApplicationForm(
        title=_texts(raw.get("title"), path, "form.title"),
        body=_texts(raw.get("body"), path, "form.body"),
        standard=str(standard),
        citation=_citation(raw.get("cite"), path, standards, "form"),
        fields=tuple(fields),
        reasons=_options(raw.get("reasons"), path, "reasons"),
        requested=_options(raw.get("requested"), path, "requested"),
    )
