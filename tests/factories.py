"""Factories: businesses, owners, staff and operators made through kaimen_core itself."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from kaimen_core import auth, db, tenancy
from kaimen_core.actors import Actor, Origin

PASSWORD = "correct horse battery"
ORIGIN = Origin(ip_address="127.0.0.1", user_agent="pytest")
_counter = itertools.count(1)


@dataclass
class Tenant:
    """A business with its owner (and the owner's sign-in cookie)."""

    business_id: int
    owner: Actor
    owner_cookie: str
    username: str


def make_business(name: str | None = None, *, time_zone: str = "America/New_York") -> Tenant:
    n = next(_counter)
    username = f"owner{n}"
    signed_in = tenancy.sign_up(
        business_name=name or f"Business {n}",
        owner_name=f"Owner {n}",
        username=username,
        email=f"owner{n}@example.com",
        phone="+12125550100",
        region="US",
        time_zone=time_zone,
        password=PASSWORD,
        confirm_password=PASSWORD,
        origin=ORIGIN,
    )
    return Tenant(signed_in.actor.business_id, signed_in.actor, signed_in.cookie, username)


def make_staff(tenant: Tenant) -> tuple[Actor, str]:
    """A staff user of ``tenant``, signed in; returns the actor and the cookie."""
    n = next(_counter)
    with db.tenant_session(tenant.owner) as session:
        user = auth.add_staff_user(session, actor=tenant.owner, username=f"staff{n}",
                                   email=f"staff{n}@example.com", display_name=f"Staff {n}", password=PASSWORD)
    signed_in = auth.sign_in(username=user.username, password=PASSWORD, origin=ORIGIN)
    return signed_in.actor, signed_in.cookie


def make_operator() -> tuple[Actor, str]:
    n = next(_counter)
    user = auth.create_operator(username=f"operator{n}", email=f"operator{n}@kaimen.example",
                                display_name=f"Operator {n}", password=PASSWORD)
    signed_in = auth.sign_in(username=user.username, password=PASSWORD, origin=ORIGIN)
    return signed_in.actor, signed_in.cookie
