"""The outbound HTTP session of a virtual EHR module that calls a service: NLL (medications), the
Multum load balancer (prescribing), the referral receiver (referrals) and the e-prescription
receiver (e-prescribing).

Its own module because the session's lifecycle is one and the same in each of those modules (it was
copied between them): one aiohttp session per EHR process, opened by ``start`` (``genrep.sim.ehr``
calls it on the running loop) with the module's ``timeout`` as the total bound of each call, closed
by ``close``; what a failed call is called (``call_failures``: no answer in time, unreachable,
malformed JSON; the medication and prescribing modules); and a receiver's answer read as a JSON
object (``answer_object``, the referral and e-prescription modules). What each module sends and what
an answer means stays in its own module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp

from genrep.sim.body import read_capped


class OutboundSession:
    """Base of an EHR module with an outbound session; the module sets ``timeout`` (seconds)."""

    timeout: float
    session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


async def answer_object(resp: aiohttp.ClientResponse, limit: int) -> dict:
    """The answer's body as a JSON object ({} when it is not one), read up to ``limit`` bytes and one
    more (``read_capped``: a larger body is cut and so is no object)."""
    raw = await read_capped(resp, limit)
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    return answer if isinstance(answer, dict) else {}


@contextmanager
def call_failures(service: str, timeout: float, error: type[Exception]) -> Iterator[None]:
    """Turn a call's timeout, connection error or malformed JSON (ValueError) into ``error`` with the
    reason that names ``service`` ("NLL did not answer within 3.0 s")."""
    try:
        yield
    except asyncio.TimeoutError:
        raise error(f"{service} did not answer within {timeout} s") from None
    except aiohttp.ClientError as exc:
        raise error(f"cannot reach {service} ({type(exc).__name__})") from None
    except ValueError:
        raise error(f"{service} answered malformed JSON") from None
