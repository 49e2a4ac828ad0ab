"""A small request-handling program with a deliberate memory leak.

Each simulated request builds a ``Session`` holding a user record, a parsed
payload and a response buffer.  Finished sessions should be dropped, but
``remember()`` also files every session in the module-level ``_SESSION_CACHE``,
which is never pruned: the sessions, and everything they hold, stay alive.

meliae's demo runs this program, dumps its heap at exit and shows how the
dump points at the leak.
"""
from __future__ import annotations

import argparse
import random
import sys
from typing import Dict, List, Optional

_SESSION_CACHE: Dict[int, "Session"] = {}
"""Sessions by request id.  Meant as a short-lived lookup table; nothing removes entries."""


class User:
    """A logged-in user; a few hundred of them are shared by all requests."""

    def __init__(self, uid: int) -> None:
        self.uid = uid
        self.name = f"user-{uid:05d}"
        self.roles = ("reader", "writer") if uid % 7 else ("admin",)


class Session:
    """Per-request state: the user, the parsed payload and the response."""

    def __init__(self, request_id: int, user: User, payload: Dict[str, object]) -> None:
        self.request_id = request_id
        self.user = user
        self.payload = payload
        self.response: List[str] = []

    def render(self) -> str:
        self.response.append(f"<h1>hello {self.user.name}</h1>")
        items = self.payload.get("items", [])
        assert isinstance(items, list)
        self.response.extend(f"<li>{item}</li>" for item in items)
        return "".join(self.response)


def parse_payload(request_id: int, rng: random.Random) -> Dict[str, object]:
    """A request body as a JSON parser would return it."""
    return {
        "id": request_id,
        "path": f"/items/{rng.randrange(1000)}",
        "items": [f"item-{request_id}-{k}" for k in range(rng.randrange(3, 9))],
        "meta": {"agent": "demo/1.0", "lang": rng.choice(["en", "fr", "de"])},
    }


def remember(session: Session) -> None:
    """Files the session for later lookups.  This is the leak."""
    _SESSION_CACHE[session.request_id] = session


def handle(request_id: int, users: List[User], rng: random.Random) -> int:
    session = Session(request_id, rng.choice(users), parse_payload(request_id, rng))
    remember(session)
    return len(session.render())


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests to simulate")
    parser.add_argument("--users", type=int, default=300, help="distinct users")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    users = [User(uid) for uid in range(args.users)]
    served = 0
    for request_id in range(args.requests):
        served += handle(request_id, users, rng)
    print(f"served {args.requests} requests ({served} bytes); "
          f"{len(_SESSION_CACHE)} sessions still cached", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
