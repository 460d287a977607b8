"""Sessions for people (the web console): log in with the admin password, root's own hash (as the console
login checks it), get a cookie that is Secure, HttpOnly and SameSite=Strict, and a CSRF token that every
change made with the cookie must carry in X-CSRF-Token. A session ends when idle, and at the latest after
a working day; they live in this process only (a restarted server asks again).

Failed logins are slowed per source address (each waits longer, up to a bound, and past a count in a
window the address is refused at once with 429) and said in the log (the journal) with the address.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import sys
import time
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from ..config.password import password_matches
from ..config.paths import Paths

COOKIE = "lbwizard_session"
CSRF_HEADER = "x-csrf-token"
REFRESH_HEADER = "x-refresh"  # "auto": the console refreshing a page by itself; it does not keep a session alive
IDLE_SECONDS = 15 * 60
LONGEST_SECONDS = 12 * 3600
MAX_SESSIONS = 256  # past it, the least recently used ends
FAILURE_WINDOW = 15 * 60
FAILURES_BEFORE_REFUSAL = 10
SLOWEST_FAILURE = 8.0  # seconds a failed login waits at most before its answer
MAX_ADDRESSES = 10_000  # addresses whose failures are remembered; past it, those that failed longest ago go


@dataclass
class Session:
    id: str
    csrf: str
    address: str
    started: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)

    def expired(self, now: float) -> bool:
        return now - self.seen > IDLE_SECONDS or now - self.started > LONGEST_SECONDS


class LoginRefused(Exception):
    """Too many failed logins from this address lately: retry_after seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed logins from this address; try again in {retry_after} s")
        self.retry_after = retry_after


def admin_hash(paths: Paths) -> str | None:
    """root's password hash: /etc/shadow on the unit, the record a dry run keeps under its root."""
    try:
        if not paths.is_live_root:
            return paths.admin_password_hash.read_text().strip() or None
        for line in (paths.root / "etc/shadow").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == "root":
                return rest.split(":", 1)[0] or None
    except OSError:
        return None
    return None


class Sessions:
    def __init__(self, paths: Paths):
        self.paths = paths
        self.open: dict[str, Session] = {}
        self.failures: dict[str, list[float]] = {}
        self.checking = asyncio.Lock()  # crypt(3) keeps its answer in a static buffer: one check at a time

    async def log_in(self, password: object, address: str) -> Session | None:
        """A new session when password is root's; None (after a delay that grows with this address's recent
        failures) when it is not; LoginRefused when the address failed too often lately."""
        now = time.monotonic()
        recent = [t for t in self.failures.get(address, []) if now - t < FAILURE_WINDOW]
        if len(recent) >= FAILURES_BEFORE_REFUSAL:
            raise LoginRefused(int(FAILURE_WINDOW - (now - recent[0])) + 1)
        # counted as a failure before the check, which waits: logins sent together each see the ones before them
        recent.append(now)
        self.failures[address] = recent
        hashed = admin_hash(self.paths)
        ok = False
        if isinstance(password, str) and hashed and hashed[:1] == "$":
            async with self.checking:
                ok = await run_in_threadpool(password_matches, password, hashed)
        if not ok:
            self._forget_old_failures(now)
            print(f"lbwizard serve: failed login from {address} ({len(recent)} in {FAILURE_WINDOW // 60} min)", file=sys.stderr)
            await asyncio.sleep(min(SLOWEST_FAILURE, 0.5 * 2 ** (len(recent) - 1)))
            return None
        self.failures.pop(address, None)
        self._end_expired(now)
        if len(self.open) >= MAX_SESSIONS:
            del self.open[min(self.open.values(), key=lambda s: s.seen).id]
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), address)
        self.open[session.id] = session
        print(f"lbwizard serve: root logged in from {address}", file=sys.stderr)
        return session

    def find(self, cookie: str | None, touch: bool = True) -> Session | None:
        """The live session of a cookie, its idle time restarted (unless touch is False: the page refreshing
        itself is not the person at work); None for none, an unknown or an ended one."""
        now = time.monotonic()
        session = self.open.get(cookie or "")
        if session is None:
            return None
        if session.expired(now):
            del self.open[session.id]
            return None
        if touch:
            session.seen = now
        return session

    def end(self, session: Session) -> None:
        self.open.pop(session.id, None)

    @staticmethod
    def csrf_ok(session: Session, sent: str | None) -> bool:
        # as bytes: compare_digest raises TypeError on a str that is not ASCII (a header is Latin-1, any byte)
        return sent is not None and hmac.compare_digest(session.csrf.encode(), sent.encode("latin-1", "replace"))

    def _end_expired(self, now: float) -> None:
        for session in [s for s in self.open.values() if s.expired(now)]:
            del self.open[session.id]

    def _forget_old_failures(self, now: float) -> None:
        """Bounded: addresses whose failures are all older than the window are forgotten."""
        for address in [a for a, times in self.failures.items() if all(now - t >= FAILURE_WINDOW for t in times)]:
            del self.failures[address]
        for address in sorted(self.failures, key=lambda a: self.failures[a][-1])[: max(0, len(self.failures) - MAX_ADDRESSES)]:
            del self.failures[address]
