"""A fake Telegram Bot API server for tests and benchmarks.

It speaks the Bot API over HTTP on 127.0.0.1 (random port), so the real bot
(aiogram, `TELEGRAM_API_URL`) talks to it exactly as to Telegram:

    fake = FakeTelegram()
    await fake.start()
    ... BOT_TOKEN=123:TEST TELEGRAM_API_URL={fake.url} python -m bot ...
    fake.push(fake.text(user, "сәлем"))             # the citizen writes
    [call] = await fake.wait_for("sendMessage", chat_id=user)

Implemented: getMe, getUpdates (long poll), setWebhook / deleteWebhook /
getWebhookInfo, sendMessage, editMessageText, editMessageReplyMarkup,
answerCallbackQuery, setMyCommands / getMyCommands / deleteMyCommands,
sendChatAction, deleteMessage, sendDocument, getChatMember,
createForumTopic, forwardMessage, copyMessage. Every call is recorded
(method, decoded params, HTTP status, time). Faults can be injected per
method: an error status (429 with retry_after, 500, ...) or a delay, for the
next N calls; or calls can be held until the test releases them (`hold_next`:
kill the bot while it waits). Updates can also be POSTed to the webhooks bots registered.

Self-contained on purpose (aiohttp only): the benchmark imports it too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

# Parameters Telegram takes as strings even when they look like JSON/numbers.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "url",
        "secret_token",
        "callback_query_id",
        "name",
        "language_code",
        "parse_mode",
        "description",
        "short_description",
        "title",
        "action",
        "ip_address",
    }
)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str
    status: int = 200  # 0 while the call is in progress
    at: float = field(default_factory=time.monotonic)  # when answered
    arrived: float = field(default_factory=time.monotonic)  # when the request came in
    result: Any = None

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return (
            int(value)
            if isinstance(value, int | str) and str(value).lstrip("-").isdigit()
            else None
        )

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        markup = self.params.get("reply_markup") or {}
        return list(markup.get("inline_keyboard") or []) if isinstance(markup, dict) else []

    @property
    def payloads(self) -> list[str]:
        return [str(b.get("callback_data")) for row in self.buttons for b in row]

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Fault:
    method: str
    remaining: int
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    description: str = ""


@dataclass
class Hold:
    """Calls of `method` (to `chat_id`, when given) held by the server until
    `release()`: the bot process can be killed while it waits for them."""

    method: str
    chat_id: int | None
    remaining: int
    calls: list[Call] = field(default_factory=list)
    held: asyncio.Event = field(default_factory=asyncio.Event)  # set when one is held
    released: asyncio.Event = field(default_factory=asyncio.Event)
    deliver: bool = True

    def matches(self, call: Call) -> bool:
        return (
            self.remaining > 0
            and call.method == self.method
            and (self.chat_id is None or call.chat_id == self.chat_id)
        )

    def release(self, *, deliver: bool = True) -> None:
        """Answer the held calls: carried out (`deliver`, as Telegram does
        with a request whose sender went away) or dropped unanswered-for
        (502, as when the request never got past a gateway)."""
        self.deliver = deliver
        self.released.set()

    async def wait_held(self, timeout: float = 10.0) -> Call:
        await asyncio.wait_for(self.held.wait(), timeout)
        return self.calls[0]


class FakeTelegram:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.calls: list[Call] = []
        self.webhooks: dict[str, str] = {}  # url -> secret token
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._faults: list[Fault] = []
        self._holds: list[Hold] = []
        self._queue: list[dict[str, Any]] = []
        self._again: list[dict[str, Any]] = []  # redeliveries, given regardless of offset
        self._update_ids = itertools.count(random.randint(10_000, 10_000_000))
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        # Long polls in progress return now, or the server would wait for them.
        self._closing = True
        for hold in self._holds:
            if not hold.released.is_set():
                hold.release(deliver=False)
        async with self._changed:
            self._changed.notify_all()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Forget calls, faults, queued updates and webhooks (between tests)."""
        self.calls.clear()
        self._faults.clear()
        self._queue.clear()
        self._again.clear()
        self.webhooks.clear()

    # -- faults ----------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        count: int = 1,
        *,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """The next `count` calls of `method` answer `status` (429 carries
        `retry_after`, default 1 s)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        desc = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            500: "Internal Server Error",
            502: "Bad Gateway",
            400: "Bad Request: chat not found",
            403: "Forbidden: bot was blocked by the user",
        }.get(status, "Error")
        self._faults.append(Fault(method, count, status, retry_after, 0.0, desc))

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """The next `count` calls of `method` answer (normally) after `seconds`."""
        self._faults.append(Fault(method, count, None, None, seconds))

    def hold_next(self, method: str, *, chat_id: int | None = None, count: int = 1) -> Hold:
        """The next `count` calls of `method` (to `chat_id`) wait until the
        returned hold is released."""
        hold = Hold(method, chat_id, count)
        self._holds.append(hold)
        return hold

    def _take_hold(self, call: Call) -> Hold | None:
        for hold in self._holds:
            if hold.matches(call):
                hold.remaining -= 1
                hold.calls.append(call)
                hold.held.set()
                return hold
        return None

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.remaining > 0:
                fault.remaining -= 1
                return fault
        return None

    # -- users write ---------------------------------------------------------------
    @staticmethod
    def user(user_id: int, lang: str | None = "ru") -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Test"}
        if lang:
            user["language_code"] = lang
        return user

    def _message(
        self, user_id: int, lang: str | None = "ru", chat_type: str = "private", **content: Any
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": user_id, "type": chat_type}
        if chat_type != "private":
            chat = {"id": -100_000_000_000 - user_id, "type": chat_type, "title": "Group"}
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.user(user_id, lang),
            **content,
        }

    def _update(self, **body: Any) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **body}

    def text(
        self, user_id: int, text: str, *, lang: str | None = "ru", **kw: Any
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._update(message=self._message(user_id, lang, **kw, **content))

    def sticker(self, user_id: int, *, lang: str | None = "ru") -> dict[str, Any]:
        sticker = {
            "file_id": "CAACAgIAAxkBAAEFake",
            "file_unique_id": "AgADFake",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._update(message=self._message(user_id, lang, sticker=sticker))

    def photo(
        self, user_id: int, *, lang: str | None = "ru", caption: str | None = None
    ) -> dict[str, Any]:
        sizes = [
            {"file_id": f"photo{w}", "file_unique_id": f"uphoto{w}", "width": w, "height": w}
            for w in (90, 320, 800)
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._update(message=self._message(user_id, lang, **content))

    def voice(self, user_id: int, *, lang: str | None = "ru") -> dict[str, Any]:
        voice = {"file_id": "voice1", "file_unique_id": "uvoice1", "duration": 3}
        return self._update(message=self._message(user_id, lang, voice=voice))

    def video(self, user_id: int, *, lang: str | None = "ru") -> dict[str, Any]:
        video = {
            "file_id": "v1",
            "file_unique_id": "uv1",
            "width": 640,
            "height": 480,
            "duration": 5,
        }
        return self._update(message=self._message(user_id, lang, video=video))

    def document(self, user_id: int, *, lang: str | None = "ru") -> dict[str, Any]:
        doc = {"file_id": "doc1", "file_unique_id": "udoc1", "file_name": "scan.pdf"}
        return self._update(message=self._message(user_id, lang, document=doc))

    def location(self, user_id: int, *, lang: str | None = "ru") -> dict[str, Any]:
        return self._update(
            message=self._message(user_id, lang, location={"latitude": 51.13, "longitude": 71.43})
        )

    def contact(self, user_id: int, *, lang: str | None = "ru") -> dict[str, Any]:
        contact = {"phone_number": "+77000000000", "first_name": "Test", "user_id": user_id}
        return self._update(message=self._message(user_id, lang, contact=contact))

    def edited(self, user_id: int, text: str, *, lang: str | None = "ru") -> dict[str, Any]:
        message = self._message(user_id, lang, text=text, edit_date=int(time.time()))
        return self._update(edited_message=message)

    def press(
        self,
        user_id: int,
        data: str,
        message: dict[str, Any] | Call | None = None,
        *,
        lang: str | None = "ru",
    ) -> dict[str, Any]:
        """A press of the button `data` on `message` (a message the bot sent,
        as recorded: a `Call` of sendMessage, or the message dict)."""
        if isinstance(message, Call):
            message = message.result
        if message is None:
            message = self.last_message(user_id, with_button=data)
        if message is None:
            raise LookupError(f"no message with a {data!r} button in chat {user_id}")
        callback = {
            "id": str(next(self._callback_ids)),
            "from": self.user(user_id, lang),
            "chat_instance": f"ci{user_id}",
            "message": message,
            "data": data,
        }
        return self._update(callback_query=callback)

    # -- delivering updates -------------------------------------------------------------
    def push(self, *updates: dict[str, Any]) -> None:
        """Queue updates for getUpdates."""
        self._queue.extend(updates)
        self._notify()

    def redeliver(self, *updates: dict[str, Any]) -> None:
        """Hand these updates out once more, as Telegram does with updates
        whose offset was not confirmed (whatever offset the bot asks for)."""
        self._again.extend(updates)
        self._notify()

    async def post_webhook(
        self, update: dict[str, Any], url: str | None = None, secret: str | None = None
    ) -> int:
        """POST `update` to `url` (default: every registered webhook) with
        the secret header it registered (or `secret`); return the last status."""
        if self._client is None:
            self._client = aiohttp.ClientSession()
        status = 0
        for target in [url] if url else list(self.webhooks):
            token = secret if secret is not None else self.webhooks.get(target, "")
            headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
            async with self._client.post(target, json=update, headers=headers) as resp:
                status = resp.status
        return status

    def pending(self) -> int:
        return len(self._queue) + len(self._again)

    # -- looking at what the bot did --------------------------------------------
    def mark(self) -> int:
        """A position in the call log; pass as `since=` to look only after it."""
        return len(self.calls)

    def of(
        self, method: str, *, chat_id: int | None = None, since: int = 0, ok_only: bool = True
    ) -> list[Call]:
        return [
            c
            for c in self.calls[since:]
            if c.method == method
            and (chat_id is None or c.chat_id == chat_id)
            and (c.ok or not ok_only)
        ]

    def texts(self, chat_id: int, since: int = 0) -> list[str]:
        return [c.text for c in self.of("sendMessage", chat_id=chat_id, since=since)]

    def last_message(self, chat_id: int, with_button: str | None = None) -> dict[str, Any] | None:
        for (chat, _), message in reversed(self.messages.items()):
            if chat != chat_id:
                continue
            if with_button is None:
                return message
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            if any(b.get("callback_data") == with_button for row in rows for b in row):
                return message
        return None

    async def wait_for(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        where: Callable[[Call], bool] | None = None,
        count: int = 1,
        since: int = 0,
        timeout: float = 10.0,
    ) -> list[Call]:
        """Wait until `count` successful calls of `method` match; return them."""

        def matching() -> list[Call]:
            found = self.of(method, chat_id=chat_id, since=since)
            return [c for c in found if where is None or where(c)]

        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(matching()) >= count), timeout
                )
            except TimeoutError:
                got = [(c.method, c.chat_id, c.text[:60]) for c in self.calls[since:]]
                raise AssertionError(
                    f"waited {timeout}s for {count} x {method} (chat {chat_id}); calls: {got}"
                ) from None
        return matching()[:count]

    async def quiet(self, seconds: float = 0.5) -> None:
        """Wait until the bot makes no call (getUpdates aside) for `seconds`."""
        while True:
            before = len([c for c in self.calls if c.method != "getUpdates"])
            await asyncio.sleep(seconds)
            if len([c for c in self.calls if c.method != "getUpdates"]) == before:
                return

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        task = asyncio.get_running_loop().create_task(notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the API ---------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        params[key] = {"filename": value.filename, "size": len(value.file.read())}
                    else:
                        params[key] = self._decode(key, str(value))
        # Uploaded files travel as separate parts named by "attach://<part>".
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = params.pop(value.removeprefix("attach://"), value)
        return params

    @staticmethod
    def _decode(key: str, value: str) -> Any:
        if key in _STRING_PARAMS:
            return value
        try:
            return json.loads(value)
        except ValueError:
            return value

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        params = await self._params(request)
        # Logged on arrival (status 0 while in progress: a long poll is seen
        # at once), completed when answered.
        call = Call(method, params, token, status=0)
        self.calls.append(call)
        hold = self._take_hold(call) if self._holds else None
        if hold is not None:
            await hold.released.wait()
            if not hold.deliver:
                dropped = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
                return await self._record(call, 502, dropped)
        fault = self._take_fault(method)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": fault.status,
                "description": fault.description,
            }
            if fault.retry_after is not None:
                body["parameters"] = {"retry_after": fault.retry_after}
            return await self._record(call, fault.status, body)
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            body = {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
            return await self._record(call, 404, body)
        try:
            result = await handler(token, params)
        except _ApiError as exc:
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            return await self._record(call, exc.status, body)
        call.result = result
        return await self._record(call, 200, {"ok": True, "result": result})

    async def _record(self, call: Call, status: int, body: dict[str, Any]) -> web.Response:
        call.status = status
        call.at = time.monotonic()
        async with self._changed:
            self._changed.notify_all()
        return web.json_response(body, status=status)

    def _bot_user(self, token: str) -> dict[str, Any]:
        bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else 1
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": "1414 Test",
            "username": "test_1414_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _new_message(self, token: str, chat_id: int, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": self._bot_user(token),
            **{k: v for k, v in content.items() if v is not None},
        }
        self.messages[(chat_id, message["message_id"])] = message
        return message

    async def _m_getMe(self, token: str, params: dict[str, Any]) -> Any:
        return self._bot_user(token)

    async def _m_getUpdates(self, token: str, params: dict[str, Any]) -> Any:
        if self.webhooks:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)

        def ready() -> list[dict[str, Any]]:
            if offset:
                self._queue[:] = [u for u in self._queue if u["update_id"] >= offset]
            return (self._again + self._queue)[:limit]

        async with self._changed:
            if not ready() and timeout > 0:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self._closing or bool(ready())), timeout
                    )
                except TimeoutError:
                    return []
            out = ready()
            del self._again[: min(len(self._again), len(out))]
            return out

    async def _m_setWebhook(self, token: str, params: dict[str, Any]) -> Any:
        self.webhooks[str(params["url"])] = str(params.get("secret_token") or "")
        return True

    async def _m_deleteWebhook(self, token: str, params: dict[str, Any]) -> Any:
        self.webhooks.clear()
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _m_getWebhookInfo(self, token: str, params: dict[str, Any]) -> Any:
        url = next(iter(self.webhooks), "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": self.pending()}

    async def _m_sendMessage(self, token: str, params: dict[str, Any]) -> Any:
        text = str(params.get("text", ""))
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard") or []:
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return self._new_message(token, int(params["chat_id"]), text=text, reply_markup=markup)

    def _stored(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return self.messages[key]

    async def _m_editMessageText(self, token: str, params: dict[str, Any]) -> Any:
        message = self._stored(params)
        markup = params.get("reply_markup")
        if message.get("text") == params.get("text") and message.get("reply_markup") == markup:
            raise _ApiError(400, "Bad Request: message is not modified")
        message["text"] = params.get("text")
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return message

    async def _m_editMessageReplyMarkup(self, token: str, params: dict[str, Any]) -> Any:
        message = self._stored(params)
        markup = params.get("reply_markup")
        if message.get("reply_markup") == markup:
            raise _ApiError(400, "Bad Request: message is not modified")
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return message

    async def _m_answerCallbackQuery(self, token: str, params: dict[str, Any]) -> Any:
        return True

    async def _m_setMyCommands(self, token: str, params: dict[str, Any]) -> Any:
        return True

    async def _m_getMyCommands(self, token: str, params: dict[str, Any]) -> Any:
        for call in reversed(self.calls):
            if call.method == "setMyCommands" and call.params.get("language_code") == params.get(
                "language_code"
            ):
                return call.params.get("commands", [])
        return []

    async def _m_deleteMyCommands(self, token: str, params: dict[str, Any]) -> Any:
        return True

    async def _m_sendChatAction(self, token: str, params: dict[str, Any]) -> Any:
        return True

    async def _m_deleteMessage(self, token: str, params: dict[str, Any]) -> Any:
        self.messages.pop((int(params["chat_id"]), int(params["message_id"])), None)
        return True

    async def _m_sendDocument(self, token: str, params: dict[str, Any]) -> Any:
        doc = params.get("document")
        name = doc.get("filename") if isinstance(doc, dict) else "file"
        document = {
            "file_id": f"doc{next(self._message_ids)}",
            "file_unique_id": "u",
            "file_name": name,
        }
        return self._new_message(
            token, int(params["chat_id"]), document=document, caption=params.get("caption")
        )

    async def _m_getChatMember(self, token: str, params: dict[str, Any]) -> Any:
        return {"status": "member", "user": self.user(int(params["user_id"]))}

    async def _m_createForumTopic(self, token: str, params: dict[str, Any]) -> Any:
        return {
            "message_thread_id": next(self._message_ids),
            "name": params.get("name", ""),
            "icon_color": 7322096,
        }

    async def _m_forwardMessage(self, token: str, params: dict[str, Any]) -> Any:
        source = self.messages.get((int(params["from_chat_id"]), int(params["message_id"])), {})
        return self._new_message(token, int(params["chat_id"]), text=source.get("text", "…"))

    async def _m_copyMessage(self, token: str, params: dict[str, Any]) -> Any:
        copied = await self._m_forwardMessage(token, params)
        return {"message_id": copied["message_id"]}


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def payloads_of(calls: Iterable[Call]) -> list[str]:
    return [p for c in calls for p in c.payloads]


async def serve(port: int = 0) -> None:
    """Run a fake server until stdin closes; print its URL first. The
    benchmark runs it in a process of its own so that the bot process does
    not pay for Telegram's side of the HTTP calls."""
    import sys

    async with FakeTelegram(port=port) as fake:
        sys.stdout.write(fake.url + "\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(serve())
