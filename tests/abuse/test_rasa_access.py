"""The Rasa server the bot starts is reachable only from this machine and
only with the token: nobody else can use or replace the model."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import aiohttp
import pytest

from nlu.rasa import RasaServer

pytestmark = pytest.mark.rasa


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent for UDP connect
            address = str(s.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


async def test_parse_needs_the_token(rasa_server: RasaServer) -> None:
    async with aiohttp.ClientSession() as http:
        body = {"text": "какие документы нужны"}
        url = rasa_server.url + "/model/parse"
        async with http.post(url, json=body) as no_token:
            assert no_token.status == 401
        async with http.post(url, json=body, params={"token": "wrong"}) as wrong:
            assert wrong.status == 401
        async with http.post(url, json=body, params={"token": rasa_server.token}) as right:
            assert right.status == 200
            assert (await right.json())["intent"]["name"] == "ask_documents"
        # Replacing the model is refused too.
        async with http.put(rasa_server.url + "/model", json={"model_file": "/tmp/x"}) as put:
            assert put.status == 401


async def test_listens_on_loopback_only(rasa_server: RasaServer) -> None:
    port = urlsplit(rasa_server.url).port
    assert urlsplit(rasa_server.url).hostname == "127.0.0.1"
    other = _other_address()
    if other is None:
        pytest.skip("this machine has no address but loopback")
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(2)
        s.connect((other, port))
