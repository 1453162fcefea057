"""`python -m bot chat --jsonl`, the contract of DESIGN.md, as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nlu.rasa import RasaServer

pytestmark = pytest.mark.rasa
REPO = Path(__file__).resolve().parent.parent


def run_jsonl(
    lines: list[dict[str, object] | str], server: RasaServer, tmp_path: Path
) -> list[dict]:
    env = dict(
        os.environ,
        NLU_URL=server.url,
        NLU_TOKEN=server.token,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
    )
    env.pop("BOT_TOKEN", None)
    env.pop("REDIS_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--jsonl"],
        input="\n".join(
            x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines
        )
        + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_jsonl_conversation(rasa_server: RasaServer, tmp_path: Path) -> None:
    out = run_jsonl(
        [
            {"user": 1, "text": "Какие документы нужны для дубликата диплома?"},
            {"user": 2, "text": "қандай құжаттар керек?"},
            {"user": 2, "button": "svc:grant"},
            {"user": 1, "text": "а через портал?"},
            {"user": 1, "button": "ch:psc"},
            {"user": 3, "text": "ЦОН до скольки работает?"},
        ],
        rasa_server,
        tmp_path,
    )
    assert len(out) == 6
    for item in out:
        assert set(item) == {"replies", "lang", "intent"}
        for reply in item["replies"]:
            assert isinstance(reply["text"], str) and reply["text"]
            for b in reply["buttons"]:
                assert set(b) == {"text", "payload"} and len(b["payload"].encode()) <= 64
    assert out[0]["lang"] == "ru" and out[0]["intent"] == "ask_documents"
    assert "Источник:" in out[0]["replies"][0]["text"]
    # user 2 is another citizen: asked which service, then got the grant list
    assert out[1]["lang"] == "kk"
    assert "svc:grant" in [b["payload"] for b in out[1]["replies"][0]["buttons"]]
    assert "086-У" in out[2]["replies"][0]["text"] and out[2]["lang"] == "kk"
    # user 1's follow-up kept user 1's context (duplicate), not user 2's (grant)
    assert "ЭЦП" in out[3]["replies"][0]["text"]
    assert "расписк" in out[4]["replies"][0]["text"]
    assert "20:00" in out[5]["replies"][0]["text"]


def test_bad_json_line_gets_an_error_line_and_the_rest_goes_on(
    rasa_server: RasaServer, tmp_path: Path
) -> None:
    out = run_jsonl(["{not json", {"user": 1, "text": "сәлем"}], rasa_server, tmp_path)
    assert "error" in out[0]
    assert out[1]["lang"] == "kk" and out[1]["intent"] == "greet"


def test_where_to_apply_typed_without_a_question_mark_does_not_open_the_form(
    rasa_server: RasaServer, tmp_path: Path
) -> None:
    # DIET reads "где подать заявление на дубликат" (no "?") as "I want to
    # apply" at 0.75: a question word first asks of the standard. The citizen
    # gets where to apply, not the application form asking for consent.
    out = run_jsonl(
        [
            {"user": 1, "text": "сколько дней делают дубликат аттестата"},
            {"user": 1, "text": "где подать заявление на дубликат"},
        ],
        rasa_server,
        tmp_path,
    )
    where = out[1]
    text = "\n".join(r["text"] for r in where["replies"])
    assert where["intent"] == "ask_where_to_apply", where
    assert "ЦОН" in text and "персональных данных" not in text, text
