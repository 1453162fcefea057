"""Helpers for the application tests: IINs, a chat driver, PDF text."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import date

from actions.assistant import Assistant
from actions.events import Event, Outcome
from actions.validators import iin_check_digit

CENTURY_DIGIT = {1800: 1, 1900: 3, 2000: 5}  # the male digit; +1 for female


def make_iin(born: date, serial: int = 1234, female: bool = False) -> str:
    """A valid IIN for `born`: the first serial from `serial` up that has a check digit."""
    digit7 = CENTURY_DIGIT[born.year // 100 * 100] + (1 if female else 0)
    for s in range(serial, serial + 100):
        first11 = f"{born:%y%m%d}{digit7}{s % 10000:04d}"
        check = iin_check_digit(first11)
        if check is not None:
            return first11 + str(check)
    raise AssertionError("no valid serial")


def break_check_digit(iin: str) -> str:
    return iin[:11] + str((int(iin[11]) + 1) % 10)


@dataclass
class Chat:
    """One citizen talking to the assistant."""

    assistant: Assistant
    user_id: int
    history: list[Outcome] = field(default_factory=list)

    async def say(self, text: str) -> Outcome:
        outcome = await self.assistant.handle(Event(self.user_id, text=text))
        self.history.append(outcome)
        return outcome

    async def press(self, payload: str) -> Outcome:
        assert payload in self.payloads(), f"{payload} not offered: {self.payloads()}"
        return await self.force(payload)

    async def force(self, payload: str) -> Outcome:
        """Press a button whether or not the last answer offered it (stale/forged)."""
        outcome = await self.assistant.handle(Event(self.user_id, button=payload))
        self.history.append(outcome)
        return outcome

    @property
    def last(self) -> Outcome:
        return self.history[-1]

    def text(self) -> str:
        return "\n".join(r.text for r in self.last.replies)

    def payloads(self) -> list[str]:
        return [b.payload for r in self.last.replies for b in r.flat_buttons()]


# -- PDF text -------------------------------------------------------------------------------
_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM = re.compile(rb"<<(.*?)>>\s*stream\r?\n(.*?)\r?\nendstream", re.S)
_BFCHAR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
_BFRANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
_FONT_REFS = re.compile(rb"/Font\s*<<(.*?)>>", re.S)
_REF = re.compile(rb"/([A-Za-z0-9]+)\s+(\d+)\s+0\s+R")
# A font selection or a text-showing operator, in content-stream order.
_OPS = re.compile(
    rb"/([A-Za-z0-9]+)\s+[\d.]+\s+Tf|(\((?:[^()\\]|\\.)*\)\s*Tj|\[(?:[^\]\\]|\\.)*\]\s*TJ)",
    re.S,
)
_LITERAL = re.compile(rb"\(((?:[^()\\]|\\.)*)\)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _stream_of(body: bytes) -> tuple[bytes, bytes] | None:
    m = _STREAM.search(body)
    if m is None:
        return None
    data = m.group(2)
    if b"FlateDecode" in m.group(1):
        data = zlib.decompress(data)
    return m.group(1), data


def _unescape(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i : i + 1]
        if c == b"\\" and i + 1 < len(raw):
            n = raw[i + 1 : i + 2]
            if n in _ESCAPES:
                out += _ESCAPES[n]
                i += 2
            elif n.isdigit():
                j = i + 1
                while j < len(raw) and j < i + 4 and raw[j : j + 1].isdigit():
                    j += 1
                out.append(int(raw[i + 1 : j], 8) & 0xFF)
                i = j
            else:
                out += n
                i += 2
        else:
            out += c
            i += 1
    return bytes(out)


def _cmap(data: bytes) -> dict[int, str]:
    cmap: dict[int, str] = {}
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, dst in _BFRANGE.findall(block):
            start = int(dst, 16)
            for k, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                cmap[code] = chr(start + k)
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in _BFCHAR.findall(block):
            cmap[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    return cmap


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF written by fpdf2 with embedded TrueType fonts: the
    two-byte glyph codes of each font mapped back through that font's
    ToUnicode CMap. (pypdf would do; this keeps the tests free of another
    dependency.)"""
    objects = {int(m.group(1)): m.group(2) for m in _OBJECT.finditer(pdf)}
    fonts: dict[bytes, dict[int, str]] = {}
    for body in objects.values():
        refs = _FONT_REFS.search(body)
        if refs is None:
            continue
        for name, number in _REF.findall(refs.group(1)):
            font = objects.get(int(number), b"")
            to_unicode = re.search(rb"/ToUnicode\s+(\d+)\s+0\s+R", font)
            if to_unicode is None:
                continue
            stream = _stream_of(objects.get(int(to_unicode.group(1)), b""))
            if stream is not None:
                fonts[name] = _cmap(stream[1])
    lines = []
    for body in objects.values():
        stream = _stream_of(body)
        if stream is None or b"/Length1" in stream[0] or b"BT" not in stream[1]:
            continue
        cmap: dict[int, str] = {}
        for op in _OPS.finditer(stream[1]):
            if op.group(1) is not None:
                cmap = fonts.get(op.group(1), {})
                continue
            raw = b"".join(_unescape(m.group(1)) for m in _LITERAL.finditer(op.group(2)))
            codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw) - 1, 2)]
            lines.append("".join(cmap.get(c, "\ufffd") for c in codes))
    return "\n".join(lines)
