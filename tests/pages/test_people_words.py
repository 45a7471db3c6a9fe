"""People's words are shown as text on every page (issue 14, item 4).

Names, message bodies, notes, requests, business and staff names, screening terms and
anything else a customer, requester, business or model wrote reach Streamlit elements
that render Markdown (labels of buttons and other widgets, captions, alerts, titles,
``st.markdown``, ``st.table`` cells...). Each page here is seeded with hostile strings
and rendered; every Markdown source the page sends the browser must hold them as inert
text: no image that makes every staff browser fetch an address, no live link or
autolink, heading, code block, HTML, entity, icon or colour directive, and no
bidirectional control that disguises a name. What a person sees still reads the same.
How the pages' elements are read, and which render Markdown: tests/pages/markdown.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from kaimen_core import bookings, customers, db, privacy, tenancy
from kaimen_core.models import BusinessUpdate, Conversation, Message, ScreeningTerm, User, utcnow
from pages._ui import plain
from tests.factories import make_operator
from tests.fakes.messaging import texting_business
from tests.pages.markdown import active_markdown, assert_shown_as_text, readable, shown

#: One line each: what a name, a term or a reason can hold.
HOSTILE_LINES = [
    "![x](http://127.0.0.1:9/x.png)",
    "[Pay here](http://evil.example/pay)",
    "Visit www.evil.example today",
    "Write to dana@evil.example",
    "Go to http://evil.example/a now",
    "<img src=http://127.0.0.1:9/y.png> <b>bold</b>",
    "# Urgent",
    "1. Listed",
    "- Bulleted",
    "+ Plussed",
    "> Quoted",
    ":red[Alert] :material/warning: :smile:",
    "Price $x^2$",
    "Dana &#x202E;Reyes &amp; co",
    "O'Brien *Jr* _x_ ~~y~~ `z`",
    "Dana \u202eReyes",
]
#: Several lines: what a message body, notes or a notice can hold.
HOSTILE_BLOCKS = [
    "Title\n===",
    "Heading\n=",
    "Intro\n\n    indented code",
    "```\nfenced code\n```",
    "Above\n---",
]
# --- plain() itself --------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE_LINES + HOSTILE_BLOCKS)
def test_plain_leaves_no_markdown_and_reads_the_same(hostile):
    assert active_markdown(plain(hostile)) == []
    assert shown(plain(hostile)) == readable(hostile)


def test_plain_keeps_ordinary_text_as_it_is():
    for ordinary in ["Saved.", "Moved to Mon 05 Jan 10:30 with Sam.", "Hi! Can I book Friday?", "Note: 3 left"]:
        assert plain(ordinary) == ordinary
    assert plain("first line\nsecond line") == "first line  \nsecond line"  # a line break stays one
    assert plain(None) == ""


# --- the pages -------------------------------------------------------------------------


@pytest.fixture
def hostile(database):
    """A business whose customers, staff, services, bookings, texts and requests are all hostile."""
    tenant, _ = texting_business()
    owner = tenant.owner
    now = utcnow()
    with db.tenant_session(owner) as session:
        service_id = bookings.create_service(session, actor=owner, name=HOSTILE_LINES[0], duration_minutes=30,
                                             price_cents=1000, currency="USD")
        staff_id = bookings.create_staff(session, actor=owner, name=HOSTILE_LINES[1], bio=HOSTILE_BLOCKS[0],
                                         service_ids=[service_id])
        ids = []
        for i, name in enumerate(HOSTILE_LINES):
            created = customers.create_customer(session, actor=owner, name=name, phone=f"+1212555{i:04d}",
                                                notes=HOSTILE_BLOCKS[i % len(HOSTILE_BLOCKS)])
            ids.append(created.id)
    with db.system_session() as session:
        for i, customer_id in enumerate(ids):
            session.add(Message(business_id=tenant.business_id, customer_id=customer_id, direction="inbound",
                                status="received", body=HOSTILE_BLOCKS[i % len(HOSTILE_BLOCKS)],
                                created_at=now - timedelta(minutes=i)))
            session.add(Conversation(business_id=tenant.business_id, customer_id=customer_id,
                                     last_message_at=now - timedelta(minutes=i), needs_person=True,
                                     needs_person_reason=HOSTILE_LINES[-1 - i]))
        session.add(ScreeningTerm(term="cheap pills", reason=HOSTILE_LINES[2]))
    return tenant, ids, staff_id, service_id


def _open(signed_in, username, page):
    at = signed_in(username).switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_the_inbox_shows_names_previews_and_texts_as_text(hostile, signed_in):
    tenant, ids, _, _ = hostile
    at = _open(signed_in, tenant.username, "pages/inbox.py")
    assert_shown_as_text(at, *HOSTILE_LINES)  # every conversation button, and the previews
    for customer_id in (ids[0], ids[2], ids[-1]):
        at = at.button(key=f"conversation_{customer_id}").click().run()
        name = HOSTILE_LINES[ids.index(customer_id)]
        body = HOSTILE_BLOCKS[ids.index(customer_id) % len(HOSTILE_BLOCKS)]
        assert_shown_as_text(at, name, body, HOSTILE_LINES[-1 - ids.index(customer_id)])


def _open_hours_and_book(tenant, customer_id: int, staff_id: int, service_id: int, notes: str) -> None:
    owner = tenant.owner
    with db.tenant_session(owner) as session:
        bookings.set_business_hours(session, actor=owner,
                                    spans=[bookings.Span(day, 0, 24 * 60) for day in range(7)])
    with db.tenant_session(owner) as session:
        day = (utcnow() + timedelta(days=1)).date()
        slot = bookings.free_slots(session, actor=owner, service_id=service_id, staff_id=staff_id,
                                   start_date=day, end_date=day)[0]
        bookings.create_booking(session, actor=owner, staff_id=staff_id, service_id=service_id,
                                start_at=slot.start_at, customer_id=customer_id, notes=notes)


def test_the_calendar_shows_bookings_staff_services_and_notes_as_text(hostile, signed_in):
    tenant, ids, staff_id, service_id = hostile
    _open_hours_and_book(tenant, ids[3], staff_id, service_id, HOSTILE_LINES[4])
    at = _open(signed_in, tenant.username, "pages/calendar.py")
    at.date_input(key="list_to").set_value((utcnow() + timedelta(days=3)).date()).run()
    at = at.selectbox(key="list_booking").select_index(1).run()
    assert_shown_as_text(at, HOSTILE_LINES[0], HOSTILE_LINES[1], HOSTILE_LINES[3], HOSTILE_LINES[4])
    at = at.radio(key="cal_view").set_value("Week").run()
    assert_shown_as_text(at, HOSTILE_LINES[1])  # the week's subheader names the staff member


def test_the_customer_page_shows_the_customer_as_text(hostile, signed_in, press):
    tenant, ids, _, _ = hostile
    with db.tenant_session(tenant.owner) as session:
        customers.update_customer(session, actor=tenant.owner, customer_id=ids[1], name=HOSTILE_LINES[1],
                                  phone="+12125550001", email="![x](http://127.0.0.1:9/e.png)@evil.example",
                                  notes=HOSTILE_BLOCKS[1])
    at = _open(signed_in, tenant.username, "pages/customers.py")
    at = at.selectbox(key="customer_pick").set_value(ids[1]).run()
    assert_shown_as_text(at, HOSTILE_LINES[1], HOSTILE_BLOCKS[1], "![x](http://127.0.0.1:9/e.png)@evil.example")
    # what the owner typed comes back in the confirmation, and in a refusal that quotes it
    at.text_input(key="new_name").input(HOSTILE_LINES[3])
    at = press(at, "Add customer")
    assert_shown_as_text(at, f"Added {HOSTILE_LINES[3]}.")
    at.text_input(key="new_name").input("Ana")
    at.text_input(key="new_email").input("[Pay](http://evil.example)")
    at = press(at, "Add customer")
    assert_shown_as_text(at, "'[pay](http://evil.example)' is not a valid email address.")


NOTICE = "We need until 1 May:\n" + HOSTILE_BLOCKS[2]


def test_privacy_requests_show_the_requester_and_the_identity_check_as_text(hostile, signed_in):
    tenant, _, _, _ = hostile
    with db.tenant_session(tenant.owner) as session:
        view = privacy.record_request(session, actor=tenant.owner, kind="access", regime="gdpr", channel="email",
                                      requester_name=HOSTILE_LINES[0], phone="+12125550000")
        privacy.verify_identity(session, actor=tenant.owner, request_id=view.id, method=HOSTILE_LINES[-1])
        privacy.extend(session, actor=tenant.owner, request_id=view.id, notice=NOTICE)
    at = _open(signed_in, tenant.username, "pages/privacy.py")
    assert_shown_as_text(at, HOSTILE_LINES[0], HOSTILE_LINES[-1], NOTICE)


def test_staff_services_and_time_off_show_as_text(hostile, signed_in, press):
    tenant, _, staff_id, _ = hostile
    start = utcnow() + timedelta(days=2)
    with db.tenant_session(tenant.owner) as session:
        bookings.add_time_off(session, actor=tenant.owner, staff_id=staff_id, starts_at=start,
                              ends_at=start + timedelta(hours=2), reason=HOSTILE_LINES[2])
    at = _open(signed_in, tenant.username, "pages/staff.py")
    assert_shown_as_text(at, HOSTILE_LINES[0], HOSTILE_LINES[1], HOSTILE_LINES[2])
    at = press(at, "Save")
    assert_shown_as_text(at, f"Saved {HOSTILE_LINES[1]}.")
    at = _open(signed_in, tenant.username, "pages/services.py")
    at = press(at, "Save service")
    assert_shown_as_text(at, f"Saved {HOSTILE_LINES[0]}.")


def test_home_and_the_sidebar_show_the_business_and_the_owner_as_text(hostile, signed_in):
    tenant, _, _, _ = hostile
    operator, _ = make_operator()
    with db.tenant_session(tenant.owner) as session:
        tenancy.update_business(session, actor=tenant.owner, changes=BusinessUpdate(name=HOSTILE_LINES[2]))
    with db.tenant_session(operator) as session:
        tenancy.enforce(session, actor=operator, business_id=tenant.business_id, action="warn",
                        reason=HOSTILE_LINES[-1])
    with db.system_session() as session:
        session.get(User, tenant.owner.user_id).display_name = HOSTILE_LINES[3]
    at = _open(signed_in, tenant.username, "pages/dashboard.py")
    assert_shown_as_text(at, HOSTILE_LINES[2], HOSTILE_LINES[-1], HOSTILE_LINES[3])
    at = _open(signed_in, tenant.username, "pages/account.py")
    assert_shown_as_text(at, HOSTILE_LINES[3])


def test_operators_see_businesses_and_screening_terms_as_text(hostile, signed_in, press):
    tenant, _, _, _ = hostile
    operator, _ = make_operator()
    with db.tenant_session(tenant.owner) as session:
        tenancy.update_business(session, actor=tenant.owner, changes=BusinessUpdate(name=HOSTILE_LINES[0]))
    at = _open(signed_in, operator.username, "pages/messaging_rules.py")
    assert_shown_as_text(at)
    assert at.dataframe[0].value.to_dict("records") == [  # a table's cells are text as they are
        {"Term": "cheap pills", "Reason shown to senders": HOSTILE_LINES[2]}]
    at = press(at, "Set limits")
    assert_shown_as_text(at, f"Limits set for {HOSTILE_LINES[0]}.")
    at = _open(signed_in, operator.username, "pages/businesses.py")
    at.text_area(key="enforce_reason").input("Spam complaints")
    at = press(at, "Apply")
    assert_shown_as_text(at, f"Warn (shown to the owner): done for {HOSTILE_LINES[0]}.")


def test_the_import_shows_the_file_s_column_names_as_text(hostile, signed_in):
    tenant, _, _, _ = hostile
    header = ",".join(f'"{line}"' for line in HOSTILE_LINES[:4])
    at = _open(signed_in, tenant.username, "pages/customer_import.py")
    at.file_uploader(key="import_file").upload("hostile.csv", f"{header}\na,b,c,d\n".encode(), "text/csv")
    at = at.run()
    assert_shown_as_text(at, *HOSTILE_LINES[:4])
