"""Tenancy: a user of business A sees nothing of business B, through any public function.

The spec: "A test runs every public kaimen_core function that takes an id, as a user of
business A, against ids of business B, on SQLite and PostgreSQL, and sees nothing of B."

Every module of kaimen_core is walked and every public function (in ``__all__``) that
takes an ``..._id`` keyword is collected. Each needs a recipe below: a new such function
fails :func:`test_every_function_that_takes_an_id_has_a_recipe` until one is written.

The PostgreSQL tests at the end check the second wall, row-level security, directly.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlmodel import Session, select

import kaimen_core
from kaimen_core import (
    audit,
    auth,
    bookings,  # issue 4
    customers,
    db,
    messaging,  # issue 5
    privacy,  # issue 6
    tenancy,
    webhooks,
)
from kaimen_core.actors import Actor, Origin
from kaimen_core.customers import build_search_blocks as build
from kaimen_core.exceptions import InvalidCredentials, NotFound, PermissionDenied
from kaimen_core.models import SEARCH_INDEX_TABLES, TENANT_TABLES, Booking, Customer, StaffMember, utcnow
from kaimen_core.webhook_providers import PROVIDERS
from tests.conftest import BOTH_DATABASES, own_database, point_app_at
from tests.factories import (
    PASSWORD,
    Records,
    Tenant,
    business_snapshot,
    database_snapshot,
    make_business,
    make_operator,
    make_records,
    make_staff,
)

# --- finding every public function that takes an id ------------------------------------


def _public_functions() -> dict[str, Callable[..., Any]]:
    """``{"module.name": function}`` for every function in any kaimen_core ``__all__``.

    A function exported from several modules (``auth._users.remove_user`` and
    ``auth.remove_user``) is listed once, under its most public (then shortest) name.
    """
    def rank(public: str) -> tuple[bool, int, str]:
        return any(part.startswith("_") for part in public.split(".")), len(public), public

    names: dict[Callable[..., Any], str] = {}
    modules = ["kaimen_core"] + [
        info.name for info in pkgutil.walk_packages(kaimen_core.__path__, "kaimen_core.")
        if not info.name.endswith(".__main__")  # runs the command line when imported
    ]
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if inspect.isfunction(obj):
                public = f"{module_name.removeprefix('kaimen_core.')}.{name}"
                if obj not in names or rank(public) < rank(names[obj]):
                    names[obj] = public
    return {public: obj for obj, public in names.items()}


def _takes_an_id(function: Callable[..., Any]) -> bool:
    keyword = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.name.endswith("_id") and p.kind in keyword for p in inspect.signature(function).parameters.values())


def _takes_an_actor(function: Callable[..., Any]) -> bool:
    return "actor" in inspect.signature(function).parameters


_ID_FUNCTIONS = {name: f for name, f in _public_functions().items() if _takes_an_id(f)}
WITH_ACTOR = sorted(name for name, f in _ID_FUNCTIONS.items() if _takes_an_actor(f))
WITHOUT_ACTOR = sorted(name for name, f in _ID_FUNCTIONS.items() if not _takes_an_actor(f))


# --- the two businesses -----------------------------------------------------------------


@dataclass
class World:
    """Business A (whose users act) and business B (whose ids they try)."""

    a: Tenant
    a_staff: Actor
    b: Tenant
    b_staff: Actor
    b_records: Records
    b_session_id: int

    def actor(self, role: str) -> Actor:
        return self.a.owner if role == "owner" else self.a_staff


def _build_world(kind: str) -> World:
    """Businesses A and B, each with a row in every table, B with enforcement history."""
    a = make_business("Business A")
    a_staff, _ = make_staff(a)
    make_records(a)
    b = make_business("Business B")
    b_staff, _ = make_staff(b)
    b_records = make_records(b)
    with pytest.raises(InvalidCredentials):  # counted against its network (network_attempts)
        auth.sign_in(username=b.username, password="not the password", origin=Origin(ip_address="192.0.2.1"))
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:  # B has enforcement history and operator-access events
        tenancy.enforce(session, actor=operator, business_id=b.business_id, action="warn", reason="First warning")
        audit.list_events(session, actor=operator, business_id=b.business_id)
    if kind == "postgres":  # both businesses in search blocks (small ones have none), a fold waiting
        with db.system_session() as session:
            for business in (a, b):
                build(session, business_id=business.business_id)
                session.connection().execute(text("INSERT INTO customer_search_changes (business_id) VALUES (:b)"),
                                             {"b": business.business_id})
    return World(a, a_staff, b, b_staff, b_records, b_staff.session_id)


@dataclass
class SharedWorld:
    """The world built once in a database of its own, and that whole database as it was built."""

    urls: tuple[str, str]
    world: World
    snapshot: dict[str, list[tuple[Any, ...]]]


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def shared_world(request, tmp_path_factory) -> SharedWorld:
    """The world, built once per database for this module."""
    urls = own_database(request, request.param, tmp_path_factory.mktemp("world"), "world")
    point_app_at(*urls)
    built = _build_world(request.param)
    return SharedWorld(urls, built, database_snapshot())


@pytest.fixture
def world(shared_world) -> Iterator[World]:
    """The shared world, for a test that only reads: it must leave the database as it found it.

    The recipes are refused and write nothing (nor do they record a refusal), so one world
    serves them all; a test that writes anything fails here at its end, and needs a world
    of its own (``own_world``).
    """
    point_app_at(*shared_world.urls)
    yield shared_world.world
    now = database_snapshot()
    changed = sorted(table for table in now if now[table] != shared_world.snapshot.get(table))
    shared_world.snapshot = now  # the next test is judged on what it changes itself
    assert not changed, f"this test wrote to the shared world (tables {changed}); give it a world of its own"


@pytest.fixture
def own_world(database) -> World:
    """A world in the test's own database, for a test that writes or reads the database directly."""
    return _build_world(database.kind)


# --- recipes: call a function as A's user with B's ids ----------------------------------
# Each recipe receives the session a page would open for the actor, the actor, and
# B's world; it must be refused (NotFound or PermissionDenied).

Recipe = Callable[[Session, Actor, World], Any]

RECIPES: dict[str, Recipe] = {
    "audit.list_events": lambda s, actor, w: audit.list_events(s, actor=actor, business_id=w.b.business_id),
    "audit.record": lambda s, actor, w: audit.record(
        s, actor=actor, action="user.added", business_id=w.b.business_id, target_type="user",
        target_id=w.b_staff.user_id),
    "audit.record_operator_access": lambda s, actor, w: audit.record_operator_access(
        s, actor=actor, purpose="audit_log", business_id=w.b.business_id),
    "auth.remove_user": lambda s, actor, w: auth.remove_user(s, actor=actor, user_id=w.b_staff.user_id),
    "db.owned": lambda s, actor, w: db.owned(s, Customer, w.b_records.customer_id, actor=actor),
    "tenancy.enforce": lambda s, actor, w: tenancy.enforce(
        s, actor=actor, business_id=w.b.business_id, action="suspend", reason="Competitor sabotage"),
    "tenancy.list_enforcement": lambda s, actor, w: tenancy.list_enforcement(
        s, actor=actor, business_id=w.b.business_id),
    "customers.get_customer": lambda s, actor, w: customers.get_customer(
        s, actor=actor, customer_id=w.b_records.customer_id),
    "customers.update_customer": lambda s, actor, w: customers.update_customer(
        s, actor=actor, customer_id=w.b_records.customer_id, name="Hijacked", phone="+12125559999"),
    "customers.record_consent": lambda s, actor, w: customers.record_consent(
        s, actor=actor, customer_id=w.b_records.customer_id, kind="marketing", granted=True, method="in_person",
        wording="planted"),
    "customers.list_consent_events": lambda s, actor, w: customers.list_consent_events(
        s, actor=actor, customer_id=w.b_records.customer_id),
    "customers.customer_history": lambda s, actor, w: customers.customer_history(
        s, actor=actor, customer_id=w.b_records.customer_id),
}

# Public functions that take an id but no actor. Each is either run in A's session with
# B's ids (a recipe: B must be unchanged, and what it returns must hold nothing of B), or
# explained: why it cannot reach another business's rows.
PRIMITIVES: dict[str, Recipe | str] = {
    "auth.actor_for": "pure: builds an Actor from a User row the caller already loaded; reads no rows",
    "auth.new_user": lambda s, actor, w: auth.new_user(
        s, role="staff", business_id=w.b.business_id, username="planted-user", email="planted@example.com",
        display_name="Planted", password=PASSWORD),
    "auth.revoke_sessions": lambda s, actor, w: auth.revoke_sessions(
        s, user_id=w.b_staff.user_id, reason="sign_out", keep_session_id=None),
}



# --- bookings (issue 4): every id is B's; A's owner gets NotFound, A's staff PermissionDenied or NotFound
def _b_time_off_id(w: World) -> int:
    from kaimen_core.models import TimeOff
    from tests.factories import rows

    return rows(TimeOff, TimeOff.business_id == w.b.business_id)[0].id


_SOON = utcnow() + timedelta(days=3)
RECIPES.update({
    "bookings.update_service": lambda s, actor, w: bookings.update_service(
        s, actor=actor, service_id=w.b_records.service_id, name="Hijacked", duration_minutes=30, price_cents=0,
        currency="USD", buffer_minutes=0, active=False),
    "bookings.update_staff": lambda s, actor, w: bookings.update_staff(
        s, actor=actor, staff_id=w.b_records.staff_id, name="Hijacked", bio=None, active=False, service_ids=[]),
    "bookings.set_staff_photo": lambda s, actor, w: bookings.set_staff_photo(
        s, actor=actor, staff_id=w.b_records.staff_id, data=b"\x89PNG\r\n\x1a\n"),
    "bookings.remove_staff_photo": lambda s, actor, w: bookings.remove_staff_photo(
        s, actor=actor, staff_id=w.b_records.staff_id),
    "bookings.staff_photo": lambda s, actor, w: bookings.staff_photo(s, actor=actor, staff_id=w.b_records.staff_id),
    "bookings.staff_hours": lambda s, actor, w: bookings.staff_hours(s, actor=actor, staff_id=w.b_records.staff_id),
    "bookings.set_staff_hours": lambda s, actor, w: bookings.set_staff_hours(
        s, actor=actor, staff_id=w.b_records.staff_id, spans=[]),
    "bookings.list_time_off": lambda s, actor, w: bookings.list_time_off(
        s, actor=actor, staff_id=w.b_records.staff_id),
    "bookings.add_time_off": lambda s, actor, w: bookings.add_time_off(
        s, actor=actor, staff_id=w.b_records.staff_id, starts_at=_SOON, ends_at=_SOON + timedelta(hours=8)),
    "bookings.remove_time_off": lambda s, actor, w: bookings.remove_time_off(
        s, actor=actor, time_off_id=_b_time_off_id(w)),
    "bookings.create_booking": lambda s, actor, w: bookings.create_booking(
        s, actor=actor, staff_id=w.b_records.staff_id, service_id=w.b_records.service_id, start_at=_SOON,
        customer_id=w.b_records.customer_id),
    "bookings.reschedule_booking": lambda s, actor, w: bookings.reschedule_booking(
        s, actor=actor, booking_id=w.b_records.booking_id, start_at=_SOON),
    "bookings.cancel_booking": lambda s, actor, w: bookings.cancel_booking(
        s, actor=actor, booking_id=w.b_records.booking_id),
    "bookings.complete_booking": lambda s, actor, w: bookings.complete_booking(
        s, actor=actor, booking_id=w.b_records.booking_id),
    "bookings.mark_no_show": lambda s, actor, w: bookings.mark_no_show(
        s, actor=actor, booking_id=w.b_records.booking_id),
    "bookings.get_booking": lambda s, actor, w: bookings.get_booking(
        s, actor=actor, booking_id=w.b_records.booking_id),
    "bookings.list_bookings": lambda s, actor, w: bookings.list_bookings(
        s, actor=actor, start_at=utcnow(), end_at=utcnow() + timedelta(days=30), staff_id=w.b_records.staff_id),
    "bookings.free_slots": lambda s, actor, w: bookings.free_slots(
        s, actor=actor, service_id=w.b_records.service_id, start_date=_SOON.date(), end_date=_SOON.date()),
    "bookings.week_grid": lambda s, actor, w: bookings.week_grid(
        s, actor=actor, staff_id=w.b_records.staff_id, week_of=_SOON.date()),
})


# --- messaging (issue 5): B's customer and booking; A's owner and staff get NotFound or PermissionDenied
# Privacy: every request-id function with B's request, every business-id one with B's business.
RECIPES.update({
    "privacy.access_export": lambda s, actor, w: privacy.access_export(
        s, actor=actor, request_id=w.b_records.privacy_request_id),
    "privacy.acknowledge": lambda s, actor, w: privacy.acknowledge(
        s, actor=actor, request_id=w.b_records.privacy_request_id),
    "privacy.get_request": lambda s, actor, w: privacy.get_request(
        s, actor=actor, request_id=w.b_records.privacy_request_id),
    "privacy.load_request": lambda s, actor, w: privacy.load_request(
        s, actor=actor, request_id=w.b_records.privacy_request_id),
    "privacy.start": lambda s, actor, w: privacy.start(s, actor=actor, request_id=w.b_records.privacy_request_id),
    "privacy.restrict": lambda s, actor, w: privacy.restrict(s, actor=actor, request_id=w.b_records.privacy_request_id),
    "privacy.verify_identity": lambda s, actor, w: privacy.verify_identity(
        s, actor=actor, request_id=w.b_records.privacy_request_id, method="Checked a photo ID"),
    "privacy.extend": lambda s, actor, w: privacy.extend(
        s, actor=actor, request_id=w.b_records.privacy_request_id, notice="We need more time; the new date is in May."),
    "privacy.refuse": lambda s, actor, w: privacy.refuse(
        s, actor=actor, request_id=w.b_records.privacy_request_id, legal_reason="Manifestly unfounded request"),
    "privacy.complete": lambda s, actor, w: privacy.complete(
        s, actor=actor, request_id=w.b_records.privacy_request_id, response="Answered by email"),
    "privacy.record_correction": lambda s, actor, w: privacy.record_correction(
        s, actor=actor, request_id=w.b_records.privacy_request_id, fields=["email"]),
    "privacy.lift_restriction": lambda s, actor, w: privacy.lift_restriction(
        s, actor=actor, request_id=w.b_records.privacy_request_id, notice="Told them by email the restriction ends."),
    "privacy.run_erasure": lambda s, actor, w: privacy.run_erasure(
        actor=actor, request_id=w.b_records.privacy_request_id),
    "privacy.find_customer": lambda s, actor, w: privacy.find_customer(
        s, actor=actor, business_id=w.b.business_id, email=f"customer{w.b.business_id}@example.com"),
    "privacy.list_requests": lambda s, actor, w: privacy.list_requests(s, actor=actor, business_id=w.b.business_id),
    "privacy.record_request": lambda s, actor, w: privacy.record_request(
        s, actor=actor, business_id=w.b.business_id, kind="deletion", regime="gdpr", channel="email",
        requester_name="Someone", email=f"customer{w.b.business_id}@example.com"),
    "privacy.business_export": lambda s, actor, w: privacy.business_export(
        s, actor=actor, business_id=w.b.business_id),
    "privacy.close_business": lambda s, actor, w: privacy.close_business(actor=actor, business_id=w.b.business_id),
})

RECIPES.update({
    "messaging.get_thread": lambda s, actor, w: messaging.get_thread(
        s, actor=actor, customer_id=w.b_records.customer_id),
    "messaging.mark_read": lambda s, actor, w: messaging.mark_read(
        s, actor=actor, customer_id=w.b_records.customer_id),
    "messaging.resolve_flag": lambda s, actor, w: messaging.resolve_flag(
        s, actor=actor, customer_id=w.b_records.customer_id),
    "messaging.send_text": lambda s, actor, w: messaging.send_text(
        s, actor=actor, customer_id=w.b_records.customer_id, body="planted text"),
    "messaging.notify_booking_change": lambda s, actor, w: messaging.notify_booking_change(
        s, actor=actor, booking_id=w.b_records.booking_id, change="created"),
    "messaging.set_limits": lambda s, actor, w: messaging.set_limits(
        s, actor=actor, business_id=w.b.business_id, rate_per_minute=1, daily_cap=1),
    "webhooks.list_webhook_events": lambda s, actor, w: webhooks.list_webhook_events(
        s, actor=actor, providers=PROVIDERS, business_id=w.b.business_id),
})
PRIMITIVES.update({
    "privacy.phone_hash": "pure: messaging's one-way hash of a number for a business; reads no rows",
    "models.business_signer": "pure: the signer an event verified with a business's own account carries; reads no "
                              "rows",
    "models.unrouted_events_of": "a condition, reading no rows itself: the erasure's prepare and verification "
                                 "use it in a system session for the business of a request already loaded for the "
                                 "actor; it picks only the platform rows that concern that business",
    "privacy.scan": "the erasure's verification, run only by kaimen_core.privacy in a system session after the "
                    "request was loaded for the actor; it returns where traces are, never their text",
    "privacy.scan_many": "privacy.scan for several people of one business in one pass, run only by "
                         "kaimen_core.privacy in a system session; it returns where traces are, never their text",
    "customers._csv_write.existing_customers": "the import's set-based lookup, called only by customers."
                                               "import_customers in the actor's transaction with the actor's "
                                               "business; RLS scopes the rows it reads to that business",
    "customers._csv_write.write_rows": "the import's set-based write, called only by customers.import_customers "
                                       "with the actor's business; RLS's WITH CHECK refuses rows of any other",
    "customers.search.statements.customers_in_order": "reads a page's customers by id on the connection of a "
                                                      "session that customers.search_customers opened for the "
                                                      "actor; RLS and its business condition scope the rows",
    "customers.search.blocks.ready": "whether a business has search blocks, called only by "
                                     "customers.search_customers with the actor's business; RLS scopes what it reads",
    "customers.build_search_blocks": "the rebuild of one business's search blocks from its own customers, in a "
                                     "system session (the worker's fold); no page or tenant code calls it",
    "customers.refresh_search_index": "the worker's fold of one business's search changes, in a system session; "
                                      "it reads and writes only that business's rows",
    "customers.forget_customers": "the erasure's fold of its customers' search changes, in the erasure's system "
                                  "session for the request's business; it reads and writes only that business's rows",
    "messaging.deliver": "the worker's send job for a message the send path queued, in a system session; no page "
                         "or tenant code calls it",
    "messaging.own_account": "a business's own Twilio account, read in a system session by the worker's delivery "
                             "and the erasure for the business of a row already loaded; no page or tenant code "
                             "calls it",
    "jobs.enqueue": "the queue's insert, called only by kaimen_core in the caller's session with the business "
                    "of a row it already loaded through the actor; RLS's WITH CHECK refuses any other business",
    "jobs.finish": "the worker's own bookkeeping on a job it claimed, in a system session (jobs are cross-business "
                   "by design); no page or tenant code calls it",
    "jobs.retry_or_fail": "the worker's own bookkeeping on a job it claimed, in a system session; no page or "
                          "tenant code calls it",
})

def test_every_function_that_takes_an_id_has_a_recipe():
    assert "auth.remove_user" in WITH_ACTOR, "the introspection found nothing: is kaimen_core importable?"
    missing = sorted(set(WITH_ACTOR) - set(RECIPES))
    assert not missing, (
        f"kaimen_core functions take an id but have no tenancy recipe in {__name__}.RECIPES: {missing}. "
        "Add one that calls the function as A's user with B's ids."
    )
    stale = sorted(set(RECIPES) - set(WITH_ACTOR))
    assert not stale, f"RECIPES names functions that no longer take an id and an actor: {stale}"
    missing = sorted(set(WITHOUT_ACTOR) - set(PRIMITIVES))
    assert not missing, (
        f"kaimen_core functions take an id but no actor: {missing}. Give them an actor, or add them to "
        f"{__name__}.PRIMITIVES with a recipe or the reason they cannot reach another business."
    )
    stale = sorted(set(PRIMITIVES) - set(WITHOUT_ACTOR))
    assert not stale, f"PRIMITIVES names functions that no longer take an id without an actor: {stale}"


def _nothing_of_b(value: Any, world: World) -> None:
    """Nothing in ``value`` (a return value) names one of B's rows or texts."""
    shown = repr(value)
    for marker in ("Business B", f"business {world.b.business_id}", f"Customer of {world.b.business_id}",
                   world.b.username, world.b_staff.username):
        assert marker not in shown


@pytest.mark.parametrize("name", WITH_ACTOR)
def test_a_user_of_business_a_sees_nothing_of_business_b(world, name):
    recipe = RECIPES.get(name)
    if recipe is None:
        pytest.fail(f"no tenancy recipe for {name}; add one to RECIPES")
    before = business_snapshot(world.b.business_id)
    for role in ("owner", "staff"):
        actor = world.actor(role)
        try:
            with db.tenant_session(actor) as session:
                returned = recipe(session, actor, world)
        except (NotFound, PermissionDenied):
            pass
        else:
            _nothing_of_b(returned, world)
            pytest.fail(f"{name}, called by A's {role} with B's ids, answered {returned!r} instead of refusing")
        assert business_snapshot(world.b.business_id) == before, f"{name} as A's {role} changed B's rows"


@pytest.mark.parametrize("name", [n for n in WITHOUT_ACTOR if callable(PRIMITIVES.get(n))])
def test_a_primitive_run_in_business_a_cannot_reach_business_b(world, name):
    recipe = PRIMITIVES[name]
    before = business_snapshot(world.b.business_id)
    for role in ("owner", "staff"):
        actor = world.actor(role)
        try:
            with db.tenant_session(actor) as session:
                returned = recipe(session, actor, world)
        except (NotFound, PermissionDenied):
            returned = None
        _nothing_of_b(returned, world)
        assert not returned, f"{name} in a session of A's {role} reached B's rows: {returned!r}"
        assert business_snapshot(world.b.business_id) == before, f"{name} as A's {role} changed B's rows"


# --- PostgreSQL: row-level security itself ----------------------------------------------

#: These run on PostgreSQL only (no SQLite instance is generated for them at all).
postgres_only = pytest.mark.parametrize("database", ["postgres"], indirect=True)
#: Platform tables no business owns a row of: their policy is the cross-tenant test alone.
PLATFORM_TABLES = ["login_attempts", "network_attempts"]
ALL_TABLES = ["businesses", *PLATFORM_TABLES, *TENANT_TABLES, *SEARCH_INDEX_TABLES]


@pytest.mark.postgres
@postgres_only
def test_the_app_role_is_subject_to_row_level_security(database):
    with database.engine.connect() as connection:
        role = connection.execute(
            text("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).one()
        owner = connection.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'users'")).scalar_one()
        forced = connection.execute(
            text("SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity AND relname = ANY(:t)"),
            {"t": ALL_TABLES},
        ).scalars().all()
    assert not role.rolsuper and not role.rolbypassrls
    assert role.rolname != owner
    assert sorted(forced) == sorted(ALL_TABLES)


@pytest.mark.postgres
@postgres_only
def test_every_policy_reads_the_business_once_per_statement(database):
    # In a sub-select the setting is an InitPlan, computed once; bare, it is computed for
    # every row a statement visits (which halved the speed of walking an index). The
    # cross-tenant test comes second, so a row of the business never reaches it.
    with database.owner.connect() as connection:
        policies = connection.execute(text("SELECT tablename, qual, with_check FROM pg_policies")).all()
    assert sorted(table for table, _, _ in policies) == sorted(ALL_TABLES)
    once = "( SELECT (NULLIF(current_setting('app.business_id'::text, true), ''::text))::bigint"
    for table, *conditions in policies:
        for condition in conditions:
            if table in PLATFORM_TABLES:
                assert "app.business_id" not in condition, condition
                continue
            assert condition.count("current_setting('app.business_id'") == condition.count(once) == 1, condition
            assert condition.index(once) < condition.index("app.cross_tenant"), condition


@pytest.mark.postgres
@postgres_only
def test_the_app_refuses_to_connect_as_a_role_that_bypasses_rls(database, monkeypatch):
    from kaimen_core import config
    from kaimen_core.exceptions import ConfigurationError

    owner_url = database.owner.url.render_as_string(hide_password=False)
    monkeypatch.setenv("KAIMEN_DATABASE_URL", owner_url)
    config.reset_settings()
    db.reset_engine()
    try:
        with pytest.raises(ConfigurationError, match="bypasses row-level security"):
            db.get_engine()
    finally:
        monkeypatch.undo()
        config.reset_settings()
        db.reset_engine()


def _counts(connection) -> dict[str, int]:
    return {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in ALL_TABLES}


@pytest.mark.postgres
@postgres_only
def test_with_no_business_set_the_app_sees_no_rows(own_world, database):
    with database.owner.connect() as connection:
        stored = _counts(connection)
    assert all(stored.values()), f"the world should fill every table: {stored}"
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT current_setting('app.business_id', true)")).scalar() in (None, "")
        assert _counts(connection) == dict.fromkeys(ALL_TABLES, 0)


@pytest.mark.postgres
@postgres_only
def test_a_pooled_connection_never_carries_the_previous_business(own_world, database):
    engine = db.create_engine_for(database.url, pool_size=1, max_overflow=0)  # one connection, always reused
    try:
        with db.tenant_session(own_world.a.owner, engine=engine) as session:
            pid = session.connection().execute(text("SELECT pg_backend_pid()")).scalar_one()
            seen = session.connection().execute(text("SELECT count(*) FROM customers")).scalar_one()
        assert seen == 1  # A's own customer, and only it
        with pytest.raises(NotFound):  # and after a request that failed half-way
            with db.tenant_session(own_world.a.owner, engine=engine) as session:
                session.connection().execute(text("SELECT count(*) FROM users")).scalar_one()
                raise NotFound("the page failed")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
            assert connection.execute(text("SELECT current_setting('app.business_id', true)")).scalar() in (None, "")
            assert _counts(connection) == dict.fromkeys(ALL_TABLES, 0)
    finally:
        engine.dispose()


@pytest.mark.postgres
@postgres_only
def test_rls_refuses_writing_another_business_s_rows(own_world, database):
    a, b = own_world.a.business_id, own_world.b.business_id
    insert = text(
        "INSERT INTO customers (business_id, name, tags, transactional_consent, marketing_consent, created_at, "
        "updated_at) VALUES (:business, 'Planted', '[]', true, false, now(), now())"
    )
    with database.engine.connect() as connection:
        with pytest.raises(ProgrammingError) as refused:
            with connection.begin():
                connection.execute(text("SELECT set_config('app.business_id', :a, true)"), {"a": str(a)})
                connection.execute(insert, {"business": b})
        assert refused.value.orig.sqlstate == "42501"  # new row violates row-level security policy

        with pytest.raises(ProgrammingError) as moved:
            with connection.begin():
                connection.execute(text("SELECT set_config('app.business_id', :a, true)"), {"a": str(a)})
                connection.execute(text("UPDATE customers SET business_id = :b"), {"b": b})
        assert moved.value.orig.sqlstate == "42501"

        with connection.begin():
            connection.execute(text("SELECT set_config('app.business_id', :a, true)"), {"a": str(a)})
            touched = connection.execute(text("UPDATE customers SET name = 'Hijacked' WHERE business_id = :b"),
                                         {"b": b}).rowcount
            deleted = connection.execute(text("DELETE FROM bookings WHERE business_id = :b"), {"b": b}).rowcount
            connection.execute(insert, {"business": a})  # its own business: allowed
        assert (touched, deleted) == (0, 0)

    with pytest.raises(ProgrammingError):  # the same through the ORM, as kaimen_core writes
        with db.tenant_session(own_world.a.owner) as session:
            session.add(Customer(business_id=b, name="Planted"))
    with database.owner.connect() as connection:
        names = connection.execute(text("SELECT name FROM customers WHERE business_id = :b"), {"b": b}).scalars()
        assert list(names) == [f"Customer of {b}"]


def _book(actor: Actor, staff_id: int, start_hour: float, hours: float, status: str = "booked") -> int:
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2, hours=start_hour)
    with db.tenant_session(actor) as session:
        booking = Booking(business_id=actor.business_id, staff_id=staff_id, start_at=start,
                          end_at=start + timedelta(hours=hours), status=status)
        session.add(booking)
        session.flush()
        return booking.id


@pytest.mark.postgres
@postgres_only
def test_the_database_refuses_double_booking_a_staff_member(database):
    tenant = make_business()
    owner = tenant.owner
    with db.tenant_session(owner) as session:
        sam, alex = StaffMember(business_id=owner.business_id, name="Sam"), StaffMember(
            business_id=owner.business_id, name="Alex")
        session.add_all([sam, alex])
        session.flush()
        sam_id, alex_id = sam.id, alex.id

    _book(owner, sam_id, 10, 1)
    with pytest.raises(IntegrityError) as overlap:
        _book(owner, sam_id, 10.5, 1)
    assert overlap.value.orig.sqlstate == "23P01"  # exclusion_violation
    with pytest.raises(IntegrityError) as inside:
        _book(owner, sam_id, 10.25, 0.25)
    assert inside.value.orig.sqlstate == "23P01"

    _book(owner, sam_id, 11, 1)  # back to back: 11:00 starts as 10:00-11:00 ends
    _book(owner, sam_id, 9, 1)
    _book(owner, alex_id, 10.5, 1)  # another staff member at the same time

    cancelled = _book(owner, sam_id, 14, 1, status="cancelled")
    _book(owner, sam_id, 14, 1)  # the slot of a cancelled booking can be taken
    with pytest.raises(IntegrityError) as revived:
        with db.tenant_session(owner) as session:
            booking = session.exec(select(Booking).where(Booking.id == cancelled)).one()
            booking.status = "booked"
            session.add(booking)
    assert revived.value.orig.sqlstate == "23P01"
    with db.tenant_session(owner) as session:
        assert len(session.exec(select(Booking).where(Booking.staff_id == sam_id)).all()) == 5
