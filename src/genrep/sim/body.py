"""Reading an upstream HTTP answer whole, under a size cap (the virtual EHR's NLL and Multum calls).

``resp.content.read(n)`` returns whatever one socket read buffered, not n bytes: one call could cut a
valid answer short and have it called malformed. So the body is collected chunk by chunk, and the
collection stops one byte past the cap, so the caller can tell "too large" from "complete"."""

from __future__ import annotations

import aiohttp


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    raw = bytearray()
    async for chunk in resp.content.iter_any():
        raw += chunk
        if len(raw) > limit:
            break
    return bytes(raw[:limit + 1])
