"""The agent console: a small web page for the 1414 phone agents, served by
the bot's own process (aiohttp).

* An agent types what a caller asked (Kazakh or Russian) and gets the
  answers the assistant would give, ranked, with their clauses and a copy
  button.
* The open Telegram hand-offs, and the applications with their status
  changes (which notify the citizen: storage/applications.py).

Security: nothing but the login page (and its stylesheet) is served without
a session. Accounts are created on the command line (`python -m bot staff
add LOGIN`); passwords are scrypt hashes (storage/staff.py). The session
cookie is HttpOnly and SameSite=Strict; every POST carries the session's
CSRF token (a form field or the X-CSRF-Token header) and, when the browser
sends one, an Origin of this host. Pages are plain HTML from templates/
with every value escaped; the script sets text with textContent only, and
the Content Security Policy allows no inline script. Every response (a 404
too) carries the security headers, and none says what server this is.
Request bodies over MAX_BODY are refused (413).

Logins are throttled, never locked out (`LoginThrottle`): every try is
counted before the password is checked (so parallel tries are counted
too), per login and address, per address and per login; past a few free
tries the next one must wait, twice as long each time (429 with
Retry-After). Counters live in Redis when the bot has one (shared by
workers), else in memory. The address is the peer's, or, when the peer is
a trusted reverse proxy (CONSOLE_TRUSTED_PROXY), the one its
X-Forwarded-For gives. A failed or throttled login is logged with the login
and the address (never the password).
"""

from __future__ import annotations

import contextlib
import hmac
import html
import ipaddress
import json
import logging
import math
import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.i18n import LANGS
from actions.suggest import Suggestion, suggest
from storage import outbox
from storage.applications import (
    TRANSITIONS,
    Application,
    ApplicationNotFound,
    Applications,
    InvalidTransition,
)
from storage.handoffs import Handoffs, HandoffView, aware
from storage.models import utcnow
from storage.staff import Agent, StaffDirectory

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login"  # the login form's CSRF token (double submit)
LANG_COOKIE = "console_lang"
CSRF_HEADER = "X-CSRF-Token"
MAX_QUESTION = 1000  # characters of a caller's question
MAX_BODY = 64 * 1024  # bytes of a request body
SERVER_NAME = "console"  # the Server header: no software, no version
APPLICATIONS_SHOWN = 100
HANDOFFS_SHOWN = 100
OUTBOX_SHOWN = 50
OUTBOX_EXCERPT = 160
# Served files: name -> (content type, needs a session)
_FILES = {
    "console.css": ("text/css", False),
    "console.js": ("text/javascript", True),
}
_PUBLIC_ROUTES = frozenset({"login", "login_post", "static"})
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# -- templates -------------------------------------------------------------------------------
class Safe(str):
    """Markup that is already escaped (a rendered fragment)."""


def esc(value: object) -> str:
    return value if isinstance(value, Safe) else html.escape(str(value), quote=True)


@lru_cache(maxsize=16)
def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES / name).read_text(encoding="utf-8"))


def render(name: str, **values: object) -> Safe:
    """A template with every value escaped (but `Safe` fragments)."""
    return Safe(_template(name).substitute({k: esc(v) for k, v in values.items()}))


def join(fragments: Iterable[str]) -> Safe:
    return Safe("".join(esc(f) for f in fragments))


def _json_for_script(data: Any) -> Safe:
    """JSON to put inside <script type="application/json">: no "</script>" can close it."""
    text = json.dumps(data, ensure_ascii=False)
    return Safe(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


# -- login throttling ----------------------------------------------------------------------------
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str | Sequence[str] | None) -> tuple[Network, ...]:
    """ "127.0.0.1, 10.0.0.0/8" (CONSOLE_TRUSTED_PROXY) -> networks; bad entries are skipped."""
    if spec is None:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    networks: list[Network] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            log.warning("CONSOLE_TRUSTED_PROXY: %r is not an address or network", item[:60])
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(request: web.BaseRequest, trusted: Sequence[Network]) -> str:
    """The agent's address: the peer's; or, when the peer is a trusted proxy,
    the last address in X-Forwarded-For that is not one (each proxy appends
    the address it saw; what comes before a trusted hop is the client's word)."""
    peer = request.remote or "-"
    peer_ip = _ip(peer)
    if not trusted or peer_ip is None or not any(peer_ip in net for net in trusted):
        return peer
    hops = [h for value in request.headers.getall("X-Forwarded-For", []) for h in value.split(",")]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            return peer  # garbled: the proxy is the one we know
        if not any(ip in net for net in trusted):
            return str(ip)
    return peer


class ThrottleStore:
    """Counters with a "not before" time, per key: the memory version."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._keys: dict[str, tuple[int, float, float]] = {}  # count, not before, forgotten at

    def _get(self, key: str, now: float) -> tuple[int, float]:
        item = self._keys.get(key)
        if item is None or item[2] <= now:
            self._keys.pop(key, None)
            return 0, 0.0
        return item[0], item[1]

    async def attempt(
        self, keys: Sequence[tuple[str, int]], now: float, base: float, cap: float, idle: float
    ) -> float:
        """Seconds to wait before a try is allowed; 0.0: allowed, and counted
        under every key (`free` tries each before waits begin)."""
        wait = max((self._get(k, now)[1] - now for k, _ in keys), default=0.0)
        if wait > 0:
            return wait
        if len(self._keys) >= self.max_keys:
            self._keys = {k: v for k, v in self._keys.items() if v[2] > now}
        for key, free in keys:
            count = self._get(key, now)[0] + 1
            until = now + min(base * 2 ** (count - free), cap) if count >= free else 0.0
            self._keys[key] = (count, until, now + idle + max(0.0, until - now))
        return 0.0

    async def release(self, reset: str, refund: Sequence[str], now: float) -> None:
        """A good password: `reset` starts over, each of `refund` counts one try less."""
        self._keys.pop(reset, None)
        for key in refund:
            count, until = self._get(key, now)
            if count > 0:
                self._keys[key] = (count - 1, until, self._keys[key][2])


_ATTEMPT_LUA = """
local now, base = tonumber(ARGV[1]), tonumber(ARGV[2])
local cap, idle = tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = 0
for _, key in ipairs(KEYS) do
  local u = tonumber(redis.call('HGET', key, 'u') or '0')
  if u - now > wait then wait = u - now end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[4 + i])
  local n = redis.call('HINCRBY', key, 'n', 1)
  local u = 0
  if n >= free then
    u = now + math.min(base * 2 ^ (n - free), cap)
    redis.call('HSET', key, 'u', tostring(u))
  end
  redis.call('PEXPIRE', key, math.ceil((idle + math.max(0, u - now)) * 1000))
end
return '0'
"""
_RELEASE_LUA = """
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  local n = tonumber(redis.call('HGET', KEYS[i], 'n') or '0')
  if n > 0 then redis.call('HINCRBY', KEYS[i], 'n', -1) end
end
return 1
"""


class RedisThrottleStore(ThrottleStore):
    """The same in Redis (one Lua script per try: atomic across workers);
    in memory while Redis cannot be reached."""

    def __init__(self, redis: Any, prefix: str = "console:login:") -> None:
        super().__init__()
        self.redis = redis
        self.prefix = prefix
        self._attempt = redis.register_script(_ATTEMPT_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    async def attempt(
        self, keys: Sequence[tuple[str, int]], now: float, base: float, cap: float, idle: float
    ) -> float:
        from redis.exceptions import RedisError

        try:
            wait = await self._attempt(
                keys=[self.prefix + k for k, _ in keys],
                args=[now, base, cap, idle, *(free for _, free in keys)],
            )
        except RedisError:
            log.warning("console: Redis unreachable, login throttling in memory meanwhile")
            return await super().attempt(keys, now, base, cap, idle)
        return float(wait.decode() if isinstance(wait, bytes) else wait)

    async def release(self, reset: str, refund: Sequence[str], now: float) -> None:
        from redis.exceptions import RedisError

        try:
            await self._release(keys=[self.prefix + k for k in (reset, *refund)], args=[])
        except RedisError:
            await super().release(reset, refund, now)


@dataclass
class LoginThrottle:
    """Slows password guessing down without locking anyone out: every try
    is counted (before the password is checked) under three keys, each with
    tries free of waiting; past them the next try must wait `base_delay`,
    then twice that each time, at most `max_delay`. Counts are forgotten
    `idle` seconds after the last try; a good password resets its login and
    address, and does not count against the address or the login.

    * login + address (`free`): one person mistyping, or guessing one login;
    * address (`address_free`): one address guessing many logins;
    * login (`login_free`): many addresses guessing one login."""

    store: ThrottleStore = field(default_factory=ThrottleStore)
    free: int = 3
    address_free: int = 30
    login_free: int = 50
    base_delay: float = 2.0
    max_delay: float = 300.0
    idle: float = 900.0
    clock: Callable[[], float] = time.time

    @staticmethod
    def _keys(login: str, address: str) -> tuple[str, str, str]:
        return f"p:{address}:{login}", f"a:{address}", f"l:{login}"

    async def attempt(self, login: str, address: str) -> float:
        """0.0: go ahead and check the password (the try is counted); else
        the seconds to wait first."""
        pair, by_address, by_login = self._keys(login, address)
        keys = [(pair, self.free), (by_address, self.address_free), (by_login, self.login_free)]
        return await self.store.attempt(
            keys, self.clock(), self.base_delay, self.max_delay, self.idle
        )

    async def succeeded(self, login: str, address: str) -> None:
        pair, by_address, by_login = self._keys(login, address)
        await self.store.release(pair, (by_address, by_login), self.clock())


# -- the console --------------------------------------------------------------------------------
@dataclass
class Console:
    assistant: Assistant
    staff: StaffDirectory
    handoffs: Handoffs
    applications: Applications
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    trusted_proxies: tuple[Network, ...] = ()

    def t(self, lang: str, key: str, **args: Any) -> str:
        return self.assistant.t(lang, key, **args)

    def label(self, lang: str, key: str, fallback: str) -> str:
        text = self.t(lang, key)
        return fallback if text == key else text

    def local(self, at: datetime | None) -> str:
        if at is None:
            return "—"
        return at.astimezone(self.assistant.calendar.tz).strftime("%d.%m.%Y %H:%M")

    def title(self, lang: str, intent: str, service: str | None, channel: str | None) -> str:
        parts = [self.label(lang, f"topic-{intent}", intent)]
        if service:
            parts.append(self.label(lang, f"service-{service}", service))
        if channel:
            parts.append(self.label(lang, f"channel-{channel}", channel))
        return " · ".join(parts)


CONSOLE = web.AppKey("console", Console)
AGENT: web.RequestKey[Agent | None] = web.RequestKey("console_agent")


def _console(request: web.Request) -> Console:
    return request.app[CONSOLE]


def _agent(request: web.Request) -> Agent | None:
    return request.get(AGENT)


def _lang(request: web.Request) -> str:
    lang = request.query.get("lang") or request.cookies.get(LANG_COOKIE) or ""
    return lang if lang in LANGS else LANGS[0]


def _url(request: web.Request, route: str, **parts: str) -> str:
    return str(request.app.router[route].url_for(**parts))


def _base(request: web.Request) -> str:
    return _url(request, "index")


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def _set_cookie(
    request: web.Request, resp: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    resp.set_cookie(
        name,
        value,
        max_age=max_age,
        path=_base(request),
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not sent by every browser on same-origin form posts; the token decides
    return urlsplit(origin).netloc == request.host


async def _csrf_ok(request: web.Request, agent: Agent) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type == "application/x-www-form-urlencoded":
        sent = str((await request.post()).get("csrf", ""))
    return bool(sent) and hmac.compare_digest(str(sent), agent.csrf)


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


# Headers an HTTP error keeps when it is turned into a plain response.
_KEPT_HEADERS = (hdrs.LOCATION, hdrs.ALLOW, hdrs.RETRY_AFTER)


def _plain(exc: web.HTTPException) -> web.Response:
    """An aiohttp HTTP error (404, 405, 413 ...) as a response the guard can finish."""
    headers = {h: exc.headers[h] for h in _KEPT_HEADERS if h in exc.headers}
    if exc.empty_body:
        return web.Response(status=exc.status, headers=headers)
    return web.Response(status=exc.status, text=f"{exc.status}: {exc.reason}", headers=headers)


async def finish_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the security headers on every response, errors
    included, and a Server header that names no software."""
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers[hdrs.SERVER] = SERVER_NAME


@web.middleware
async def guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Body size, sessions, CSRF, the UI language and the security headers,
    for every request."""
    console = _console(request)
    lang = _lang(request)
    resp: web.StreamResponse
    if request.content_length is not None and request.content_length > MAX_BODY:
        resp = _error(413, console.t(lang, "console-error-generic"))
    else:
        # The size limit of the application serving the console (the
        # webhook's, say) is not ours: a body is read with this one.
        request = request.clone(client_max_size=MAX_BODY)
        try:
            resp = await _guarded(request, handler, console, lang)
        except web.HTTPException as exc:
            resp = _plain(exc)
    for name, value in _SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
    if request.query.get("lang") in LANGS:
        _set_cookie(request, resp, LANG_COOKIE, lang, 365 * 24 * 3600)
    return resp


async def _guarded(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    console: Console,
    lang: str,
) -> web.StreamResponse:
    route = request.match_info.route.name
    agent = await console.staff.agent(request.cookies.get(SESSION_COOKIE))
    request[AGENT] = agent
    if request.method == "POST" and not _same_origin(request):
        return _error(403, console.t(lang, "console-error-generic"))
    if route in _PUBLIC_ROUTES:
        return await handler(request)
    if agent is None:
        if "/api/" in request.path:
            return _error(401, console.t(lang, "console-error-session"))
        return _redirect(_url(request, "login"))
    if request.method == "POST" and not await _csrf_ok(request, agent):
        log.info("console: POST without a valid CSRF token refused")
        return _error(403, console.t(lang, "console-error-session"))
    return await handler(request)


# -- pages -------------------------------------------------------------------------------
def _lang_links(request: web.Request, lang: str) -> Safe:
    console = _console(request)
    links = []
    for code in LANGS:
        current = ' class="current" aria-current="true"' if code == lang else ""
        href = f"{request.path}?lang={code}"
        text = console.t(code, f"console-lang-{code}")
        links.append(Safe(f'<a href="{esc(href)}"{current}>{esc(text)}</a>'))
    return join(links)


async def login_page(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    if request.method == "GET" and _agent(request) is not None:
        return _redirect(_base(request))
    console = _console(request)
    lang = _lang(request)
    token = secrets.token_urlsafe(24)
    body = render(
        "login.html",
        lang=lang,
        title=console.t(lang, "console-title"),
        css_url=_url(request, "static", name="console.css"),
        lang_links=_lang_links(request, lang),
        login_title=console.t(lang, "console-login-title"),
        error=Safe(f'<p class="error" role="alert">{esc(error)}</p>') if error else Safe(""),
        login_url=_url(request, "login_post"),
        csrf=token,
        login_label=console.t(lang, "console-login"),
        password_label=console.t(lang, "console-password"),
        sign_in=console.t(lang, "console-sign-in"),
    )
    resp = web.Response(text=body, content_type="text/html", status=status)
    _set_cookie(request, resp, LOGIN_COOKIE, token, 3600)
    return resp


async def login_post(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    lang = _lang(request)
    form = await request.post()
    sent = str(form.get("csrf", ""))
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        return await login_page(request, console.t(lang, "console-login-expired"), 400)
    login = str(form.get("login", "")).strip().lower()[:40]
    password = str(form.get("password", ""))[:200]
    address = client_address(request, console.trusted_proxies)
    wait = await console.throttle.attempt(login, address)
    if wait > 0:
        log.warning("console: login %r from %s throttled (%.0f s to wait)", login, address, wait)
        resp = await login_page(request, console.t(lang, "console-login-throttled"), 429)
        resp.headers[hdrs.RETRY_AFTER] = str(max(1, math.ceil(wait)))
        return resp
    account_id = await console.staff.check(login, password)
    if account_id is None:
        log.warning("console: failed login %r from %s", login, address)
        return await login_page(request, console.t(lang, "console-login-failed"), 401)
    await console.throttle.succeeded(login, address)
    token = await console.staff.start_session(account_id)
    log.info("console: account %s (%r) logged in from %s", account_id, login, address)
    resp = _redirect(_base(request))
    _set_cookie(request, resp, SESSION_COOKIE, token, int(console.staff.ttl.total_seconds()))
    resp.del_cookie(LOGIN_COOKIE, path=_base(request))
    return resp


async def logout(request: web.Request) -> web.StreamResponse:
    await _console(request).staff.end_session(request.cookies.get(SESSION_COOKIE))
    resp = _redirect(_url(request, "login"))
    resp.del_cookie(SESSION_COOKIE, path=_base(request))
    return resp


def _handoff_cells(console: Console, lang: str, h: HandoffView) -> dict[str, Any]:
    waiting = h.last_staff_at is None or (
        h.last_citizen_at is not None and h.last_citizen_at > h.last_staff_at
    )
    link = None
    chat = str(h.staff_chat_id or "")
    target = h.thread_id or h.header_message_id
    if chat.startswith("-100") and target:
        link = f"https://t.me/c/{chat[4:]}/{int(target)}"
    return {
        "id": h.id,
        "lang": console.t(lang, f"console-lang-{h.lang}"),
        "opened": console.local(h.opened_at),
        "topic": console.title(lang, h.intent, None, None) if h.intent else "—",
        "state": console.t(
            lang, "console-handoff-waiting" if waiting else "console-handoff-answered"
        ),
        "link": link,
        "link_label": console.t(lang, "console-handoff-open-topic"),
    }


def _handoff_row(cells: Mapping[str, Any]) -> Safe:
    state = esc(cells["state"])
    if cells["link"]:
        state += Safe(
            f' · <a href="{esc(cells["link"])}" target="_blank" rel="noopener noreferrer">'
            f"{esc(cells['link_label'])}</a>"
        )
    return render(
        "handoff_row.html",
        id=cells["id"],
        lang=cells["lang"],
        opened=cells["opened"],
        topic=cells["topic"],
        state=Safe(state),
    )


def _fmt_date(d: date | None) -> str:
    return d.strftime("%d.%m.%Y") if d else "—"


def _next_statuses(console: Console, lang: str, status: str) -> list[dict[str, str]]:
    return [
        {"value": s, "label": console.t(lang, f"console-status-{s}")}
        for s in ("in_review", "ready", "issued", "rejected")
        if s in TRANSITIONS.get(status, frozenset())
    ]


def _app_row(console: Console, lang: str, app: Application) -> Safe:
    options = _next_statuses(console, lang, app.status)
    if options:
        action: str = render(
            "app_action.html",
            number=app.number,
            action_label=console.t(lang, "console-app-col-action"),
            options=join(
                Safe(f'<option value="{esc(o["value"])}">{esc(o["label"])}</option>')
                for o in options
            ),
            place_label=console.t(lang, "console-app-place"),
            reason_label=console.t(lang, "console-app-reason"),
            apply=console.t(lang, "console-app-apply"),
        )
    else:
        action = Safe(f'<span class="muted">{esc(console.t(lang, "console-app-final"))}</span>')
    return render(
        "app_row.html",
        number=app.number,
        service=console.label(lang, f"service-{app.service}", app.service),
        channel=console.label(lang, f"channel-{app.channel}", app.channel),
        status=console.t(lang, f"console-status-{app.status}"),
        due=_fmt_date(app.due_date),
        updated=console.local(aware(app.updated_at)),
        action=Safe(action),
    )


def _outbox_row(console: Console, lang: str, m: outbox.OutboxMessage) -> Safe:
    excerpt = m.text if len(m.text) <= OUTBOX_EXCERPT else m.text[: OUTBOX_EXCERPT - 1] + "…"
    button = Safe(
        f'<button type="button" class="resend" data-id="{m.id}">'
        f"{esc(console.t(lang, 'console-outbox-resend'))}</button>"
        '<span class="result" aria-live="polite"></span>'
    )
    return Safe(
        f'<tr data-id="{m.id}"><td>{esc(console.local(aware(m.created_at)))}</td>'
        f"<td>{m.chat_id}</td><td>{esc(excerpt)}</td>"
        f'<td class="status">{esc(console.t(lang, f"console-outbox-{m.status}"))}</td>'
        f"<td>{button}</td></tr>"
    )


def _empty_row(text: str, columns: int) -> Safe:
    return Safe(f'<tr><td colspan="{columns}" class="muted">{esc(text)}</td></tr>')


def _head(console: Console, lang: str, keys: Iterable[str]) -> Safe:
    return join(Safe(f"<th>{esc(console.t(lang, k))}</th>") for k in keys)


async def index(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    lang = _lang(request)
    agent = _agent(request)
    assert agent is not None  # the guard let us in
    t = console.t

    handoffs = await console.handoffs.list_open(HANDOFFS_SHOWN)
    handoff_rows = (
        join(_handoff_row(_handoff_cells(console, lang, h)) for h in handoffs)
        if handoffs
        else _empty_row(t(lang, "console-handoffs-empty"), 5)
    )
    status = request.query.get("status") or None
    if status not in TRANSITIONS:
        status = None
    apps = await console.applications.list(status=status, limit=APPLICATIONS_SHOWN)
    app_rows = (
        join(_app_row(console, lang, a) for a in apps)
        if apps
        else _empty_row(t(lang, "console-apps-empty"), 7)
    )
    async with console.handoffs.sessions() as session:
        undelivered = await outbox.undelivered(session, OUTBOX_SHOWN)
    outbox_rows = (
        join(_outbox_row(console, lang, m) for m in undelivered)
        if undelivered
        else _empty_row(t(lang, "console-outbox-empty"), 5)
    )
    status_options = [Safe(f'<option value="">{esc(t(lang, "console-apps-all"))}</option>')]
    for s in TRANSITIONS:
        selected = " selected" if s == status else ""
        label = t(lang, f"console-status-{s}")
        status_options.append(Safe(f'<option value="{esc(s)}"{selected}>{esc(label)}</option>'))

    strings = {
        "copy": t(lang, "console-copy"),
        "copied": t(lang, "console-copied"),
        "error": t(lang, "console-error-generic"),
        "session": t(lang, "console-error-session"),
        "empty": t(lang, "console-error-empty"),
    }
    kb = console.assistant.kb
    knowledge_notice = Safe("")
    if getattr(kb, "last_error", None):
        # A content editor's broken edit: the bot answers from the last good
        # knowledge, and the people who edit it see why here.
        at = getattr(kb, "last_error_at", None)
        when = time.strftime("%d.%m.%Y %H:%M", time.localtime(at)) if at else ""
        knowledge_notice = Safe(
            '<p class="notice" role="alert">'
            + esc(t(lang, "console-knowledge-error", at=when, error=str(kb.last_error)[:500]))
            + "</p>"
        )
    body = render(
        "index.html",
        lang=lang,
        knowledge_notice=knowledge_notice,
        csrf=agent.csrf,
        title=t(lang, "console-title"),
        css_url=_url(request, "static", name="console.css"),
        js_url=_url(request, "static", name="console.js"),
        suggest_url=_url(request, "api_suggest"),
        handoffs_url=_url(request, "api_handoffs"),
        apps_url=_base(request) + "api/applications",
        index_url=_base(request),
        logout_url=_url(request, "logout"),
        lang_links=_lang_links(request, lang),
        signed_in_as=t(lang, "console-signed-in-as", login=agent.login),
        logout=t(lang, "console-logout"),
        ask_title=t(lang, "console-ask-title"),
        ask_hint=t(lang, "console-ask-hint"),
        ask_lang=t(lang, "console-ask-lang"),
        ask_lang_auto=t(lang, "console-ask-lang-auto"),
        ask_button=t(lang, "console-ask-button"),
        handoffs_title=t(lang, "console-handoffs-title"),
        handoff_head=_head(
            console,
            lang,
            (
                "console-handoff-col-id",
                "console-handoff-col-lang",
                "console-handoff-col-opened",
                "console-handoff-col-topic",
                "console-handoff-col-state",
            ),
        ),
        handoff_rows=handoff_rows,
        apps_title=t(lang, "console-apps-title"),
        apps_filter=t(lang, "console-apps-filter"),
        apps_show=t(lang, "console-apps-show"),
        status_options=join(status_options),
        app_head=_head(
            console,
            lang,
            (
                "console-app-col-number",
                "console-app-col-service",
                "console-app-col-channel",
                "console-app-col-status",
                "console-app-col-due",
                "console-app-col-updated",
                "console-app-col-action",
            ),
        ),
        app_rows=app_rows,
        outbox_title=t(lang, "console-outbox-title"),
        outbox_hint=t(lang, "console-outbox-hint"),
        outbox_url=_base(request) + "api/outbox",
        outbox_head=_head(
            console,
            lang,
            (
                "console-outbox-col-created",
                "console-outbox-col-chat",
                "console-outbox-col-text",
                "console-outbox-col-state",
                "console-outbox-col-action",
            ),
        ),
        outbox_rows=outbox_rows,
        strings_json=_json_for_script(strings),
    )
    return web.Response(text=body, content_type="text/html")


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    entry = _FILES.get(name)
    if entry is None:
        raise web.HTTPNotFound()
    content_type, needs_session = entry
    if needs_session and _agent(request) is None:
        raise web.HTTPNotFound()
    return web.Response(body=_static_bytes(name), content_type=content_type)


@lru_cache(maxsize=8)
def _static_bytes(name: str) -> bytes:
    return (STATIC / name).read_bytes()


# -- the JSON API ---------------------------------------------------------------------------------
async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _suggestion_json(console: Console, lang: str, s: Suggestion) -> dict[str, Any]:
    return {
        "intent": s.intent,
        "service": s.service,
        "channel": s.channel,
        "lang": s.lang,
        "title": console.title(lang, *s.key),
        "text": s.text,
        "citation": s.citation,
        "citation_line": console.t(s.lang, "cite-line", cite=s.citation) if s.citation else "",
        "message": s.message,
        "score": round(s.score, 3),
        "score_label": console.t(lang, "console-score", score=f"{s.score:.2f}"),
    }


async def api_suggest(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    lang = _lang(request)
    data = await _json_body(request)
    text = str(data.get("text", "")).strip()[:MAX_QUESTION]
    if not text:
        return _error(400, console.t(lang, "console-error-empty"))
    assistant = console.assistant
    parsed = await assistant.nlu.parse(text)
    asked = str(data.get("lang", "auto"))
    question_lang = parsed.language if parsed.language in LANGS else lang
    answer_lang = asked if asked in LANGS else question_lang
    found = suggest(parsed, assistant.kb, assistant.t, answer_lang)
    intent = parsed.intent if parsed.confidence > 0 else "—"
    return web.json_response(
        {
            "language": question_lang,
            "answer_lang": answer_lang,
            "intent": parsed.intent,
            "confidence": round(parsed.confidence, 3),
            "understood": console.t(
                lang,
                "console-understood",
                intent=console.title(lang, intent, None, None),
                confidence=f"{parsed.confidence:.2f}",
                language=console.t(lang, f"console-lang-{question_lang}"),
            ),
            "degraded": console.t(lang, "console-degraded") if parsed.degraded else "",
            "none": console.t(lang, "console-no-suggestions"),
            "suggestions": [_suggestion_json(console, lang, s) for s in found],
        }
    )


async def api_handoffs(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    lang = _lang(request)
    handoffs = await console.handoffs.list_open(HANDOFFS_SHOWN)
    return web.json_response(
        {
            "handoffs": [_handoff_cells(console, lang, h) for h in handoffs],
            "empty": console.t(lang, "console-handoffs-empty"),
        }
    )


async def api_change_status(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    lang = _lang(request)
    agent = _agent(request)
    assert agent is not None
    number = request.match_info["number"]
    data = await _json_body(request)
    try:
        app = await console.applications.change_status(
            number,
            str(data.get("status", "")),
            place=str(data.get("place") or "") or None,
            reason=str(data.get("reason") or "") or None,
            actor=f"console:{agent.login}",
        )
    except ApplicationNotFound:
        return _error(404, console.t(lang, "console-error-not-found"))
    except InvalidTransition as exc:
        message = console.label(lang, f"console-error-{exc.code}", "")
        return web.json_response(
            {"code": exc.code, "message": message or console.t(lang, "console-error-generic")},
            status=409,
        )
    return web.json_response(
        {
            "number": app.number,
            "status": app.status,
            "status_label": console.t(lang, f"console-status-{app.status}"),
            "updated": console.local(aware(app.updated_at)),
            "next": _next_statuses(console, lang, app.status),
            "final_label": console.t(lang, "console-app-final"),
            "message": console.t(lang, "console-app-changed"),
        }
    )


async def api_outbox_resend(request: web.Request) -> web.StreamResponse:
    """Send an undelivered notification once more (staff judged it missing)."""
    console = _console(request)
    lang = _lang(request)
    agent = _agent(request)
    assert agent is not None
    try:
        row_id = int(request.match_info["id"])
    except ValueError:
        return _error(404, console.t(lang, "console-error-not-found"))
    async with console.handoffs.sessions() as session, session.begin():
        requeued = await outbox.send_again(session, row_id, utcnow())
    if not requeued:
        return _error(409, console.t(lang, "console-outbox-not-undelivered"))
    log.info("outbox %s requeued by console:%s", row_id, agent.login)
    return web.json_response(
        {
            "id": row_id,
            "status_label": console.t(lang, "console-outbox-pending"),
            "message": console.t(lang, "console-outbox-requeued"),
        }
    )


# -- building and serving ------------------------------------------------------------------
def console_app(
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    *,
    applications: Applications | None = None,
    throttle: LoginThrottle | None = None,
    redis: Any = None,
    trusted_proxies: str | Sequence[str] | None = None,
) -> web.Application:
    """The console as an aiohttp application, to mount under a prefix
    (`mount_console`) or serve on its own (`console_site`).

    `redis`: the bot's client, for login counters shared by workers (memory
    without). `trusted_proxies`: CONSOLE_TRUSTED_PROXY of the settings when
    not given."""
    if trusted_proxies is None:
        from bot.settings import Settings

        trusted_proxies = Settings().console_trusted_proxy
    if throttle is None:
        store = RedisThrottleStore(redis) if redis is not None else ThrottleStore()
        throttle = LoginThrottle(store)
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app.on_response_prepare.append(finish_headers)
    app[CONSOLE] = Console(
        assistant,
        StaffDirectory(sessions),
        Handoffs(sessions),
        applications or Applications(sessions, translator=assistant.t),
        throttle,
        parse_networks(trusted_proxies),
    )
    r = app.router
    r.add_get("/", index, name="index")
    r.add_get("/login", login_page, name="login")
    r.add_post("/login", login_post, name="login_post")
    r.add_post("/logout", logout, name="logout")
    r.add_get("/static/{name}", static, name="static")
    r.add_post("/api/suggest", api_suggest, name="api_suggest")
    r.add_get("/api/handoffs", api_handoffs, name="api_handoffs")
    r.add_post("/api/applications/{number}/status", api_change_status, name="api_change_status")
    r.add_post("/api/outbox/{id}/resend", api_outbox_resend, name="api_outbox_resend")
    return app


PREFIX = "/console"


def mount_console(
    parent: web.Application,
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    **kwargs: Any,
) -> None:
    """Add the console to an application that serves something else too (the webhook)."""
    parent.add_subapp(PREFIX, console_app(assistant, sessions, **kwargs))

    async def to_console(_: web.Request) -> web.StreamResponse:
        return _redirect(PREFIX + "/")

    parent.router.add_get(PREFIX, to_console)


@contextlib.asynccontextmanager
async def console_site(
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    *,
    host: str = "127.0.0.1",
    port: int = 8088,
    **kwargs: Any,
) -> AsyncIterator[str | None]:
    """Serve the console on its own site (the bot polls); yields its URL, or
    None when the port cannot be had: the bot still answers citizens then."""
    root = web.Application(client_max_size=MAX_BODY)
    root.on_response_prepare.append(finish_headers)
    mount_console(root, assistant, sessions, **kwargs)

    async def home(_: web.Request) -> web.StreamResponse:
        return _redirect(PREFIX + "/")

    root.router.add_get("/", home)
    runner = web.AppRunner(root, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            log.error("agent console not started on %s:%d: %s", host, port, exc.strerror)
            yield None
            return
        server = site._server
        bound = server.sockets[0].getsockname()[1] if server is not None else port  # type: ignore[attr-defined]
        url = f"http://{host}:{bound}{PREFIX}/"
        log.info("agent console on %s", url)
        yield url
    finally:
        await runner.cleanup()
