"""``idgw serve``'s audit work in the background: sign the chain heads that moved, every
``audit_checkpoint_interval`` seconds (with jitter, so that several instances spread out), and
close the sinks on shutdown. A failed round is logged and retried at the next one."""

from __future__ import annotations

import asyncio
import logging
import random

from idgw.audit import checkpoints
from idgw.storage.probe import log_failure

log = logging.getLogger("idgw.audit")


def sign_once(gw) -> int:
    with gw.sessionmaker() as db:
        signed = checkpoints.sign_heads(db, gw.keys.signer("ES256"), issuer=gw.settings.issuer, now=gw.clock.now())
        db.commit()
        return len(signed)


async def run_checkpoints(gw) -> None:
    interval = gw.settings.audit_checkpoint_interval
    while True:
        await asyncio.sleep(interval * (0.9 + 0.2 * random.random()))  # noqa: S311 - spreading, not a secret
        try:
            await asyncio.to_thread(sign_once, gw)
        except Exception as error:  # noqa: BLE001 - keep the timer alive; the next round signs what this one missed
            log_failure(log, "signing the audit checkpoints failed", error)
