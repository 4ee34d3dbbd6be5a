"""INKWELL_CORS_ORIGINS=*: every origin may call the API and open its WebSocket. The API
authenticates by bearer token only and never allows credentials, so a page on any site
acts with no more than the token it holds; a public API may list every origin."""

from __future__ import annotations

import dataclasses

import httpx2 as httpx
import pytest
import websockets
from websockets.typing import Origin, Subprotocol

from infra.settings import Settings, SettingsError
from tests.support.served_app import served

ELSEWHERE = "https://any-site.example"


def test_a_star_lists_every_origin_and_a_star_in_an_origin_stops_the_server(
    settings: Settings,
) -> None:
    env = {"INKWELL_DATA_DIR": str(settings.data_dir)}
    assert Settings.from_env({**env, "INKWELL_CORS_ORIGINS": "*"}).cors_origins == ("*",)
    with pytest.raises(SettingsError, match="is not an origin"):
        Settings.from_env({**env, "INKWELL_CORS_ORIGINS": "https://*.example.com"})


async def test_a_star_gives_every_origin_cors_without_credentials(settings: Settings) -> None:
    async with served(dataclasses.replace(settings, cors_origins=("*",))) as running:
        base = running.url.replace("ws://", "http://")
        async with httpx.AsyncClient() as client:
            preflight = await client.options(
                base,
                headers={
                    "origin": ELSEWHERE,
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "authorization, content-type",
                },
            )
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in preflight.headers

            answer = await client.post(
                base, json={"query": "{ __typename }"}, headers={"origin": ELSEWHERE}
            )
            assert answer.json() == {"data": {"__typename": "Query"}}
            assert answer.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in answer.headers

        async with websockets.connect(
            running.url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            origin=Origin(ELSEWHERE),
        ) as socket:
            assert socket.subprotocol == "graphql-transport-ws"
