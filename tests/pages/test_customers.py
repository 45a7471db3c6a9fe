"""The Customers and Import customers pages: search, add, detail, consent, export, import."""

from __future__ import annotations

import pytest

from kaimen_core import customers, db
from kaimen_core.models import AuditEvent, Customer
from tests.factories import count, make_business, make_staff, rows


@pytest.fixture
def customers_page(signed_in):
    def open_page(username):
        at = signed_in(username).switch_page("pages/customers.py").run()
        assert not at.exception, at.exception
        assert [t.value for t in at.title] == ["Customers"]
        return at

    return open_page


def _seed(tenant, n=3):
    with db.tenant_session(tenant.owner) as session:
        for i in range(n):
            customers.create_customer(session, actor=tenant.owner, name=f"Client {i}", phone=f"21255501{i:02d}",
                                      tags=["vip"] if i == 1 else [])


def test_owner_searches_by_phone_in_any_format_and_opens_the_customer(customers_page, press):
    tenant = make_business()
    _seed(tenant)
    at = customers_page(tenant.username)
    assert [r["Name"] for r in at.dataframe[0].value.to_dict("records")] == ["Client 0", "Client 1", "Client 2"]
    assert len(at.get("download_button")) == 1  # owners export

    at.text_input(key="customer_search").input("(212) 555-0101")
    press(at, "Search")
    assert not at.exception
    assert [r["Name"] for r in at.dataframe[0].value.to_dict("records")] == ["Client 1"]
    assert [s.value for s in at.subheader] == ["Client 1"]
    assert any("Marketing texts: no" in m.value for m in at.markdown)


def test_add_a_customer_refuses_an_invalid_phone_then_adds(customers_page, press):
    tenant = make_business()
    at = customers_page(tenant.username)
    at.text_input(key="new_name").input("Ana <b>Ruiz</b>")
    at.text_input(key="new_phone").input("12345")
    press(at, "Add customer")
    assert [e.value for e in at.error] == ["'12345' is not a valid phone number for US; include the country code "
                                           "(+44 ...) for numbers from other countries."]
    assert count(Customer, Customer.business_id == tenant.business_id) == 0
    at.text_input(key="new_name").input("Ana Ruiz")
    at.text_input(key="new_phone").input("+44 7911 123456")
    press(at, "Add customer")
    assert not at.exception and not at.error
    assert [s.value for s in at.success] == ["Added Ana Ruiz."]
    [ana] = rows(Customer, Customer.business_id == tenant.business_id)
    assert ana.phone_e164 == "+447911123456"


def test_consent_recorded_on_the_page_shows_in_the_history(customers_page, press):
    tenant = make_business()
    _seed(tenant, 1)
    at = customers_page(tenant.username)
    at.text_area(key="consent_wording").input("Monthly offers by text")
    press(at, "Record")
    assert not at.exception and not at.error
    history = at.dataframe[1].value.to_dict("records")
    assert [(h["Consent"], h["Change"], h["How"], h["Captured by"]) for h in history] == [
        ("marketing", "granted", "in person", tenant.username)]


def test_staff_see_customers_but_no_export_and_no_import(customers_page, signed_in, navigation):
    tenant = make_business()
    _seed(tenant, 1)
    staff, _ = make_staff(tenant)
    at = customers_page(staff.username)
    assert "Customers" in navigation[-1].sections["Business"]
    assert "Import customers" not in navigation[-1].titles
    assert not at.get("download_button")
    assert [r["Name"] for r in at.dataframe[0].value.to_dict("records")] == ["Client 0"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/customer_import.py")


def test_owner_imports_a_file_after_the_report(signed_in, press):
    tenant = make_business()
    at = signed_in(tenant.username).switch_page("pages/customer_import.py").run()
    assert not at.exception
    data = ("Full name;Mobile;E-mail\r\nJosé Núñez;212 555 0134;jose@example.com\r\nBad;12;\r\n"
            "José N;2125550134;\r\n").encode("latin-1")
    at.file_uploader(key="import_file").upload("clients.csv", data, "text/csv")
    at.run()
    assert not at.exception and not at.error
    assert [at.selectbox(key=f"map_{i}").value for i in range(3)] == ["name", "phone", "email"]
    press(at, "Check the file")
    issues = at.dataframe[1].value.to_dict("records")
    assert [(i["Line"], i["Column"], i["Outcome"]) for i in issues] == [(2, "Mobile", "skipped"),
                                                                        (3, "Mobile", "refused")]
    assert count(Customer, Customer.business_id == tenant.business_id) == 0
    press(at, "Import the valid rows")
    assert not at.exception
    assert [s.value for s in at.success] == ["Imported: created 1, updated 0, unchanged 0, skipped 1, refused 1."]
    [jose] = rows(Customer, Customer.business_id == tenant.business_id)
    assert (jose.name, jose.phone_e164, jose.email) == ("José N", "+12125550134", None)  # the later row won
    assert count(AuditEvent, AuditEvent.action == "customers.imported") == 1


def test_the_import_reads_an_upload_once_not_on_every_click(signed_in, press, monkeypatch):
    reads = []
    read_csv = customers.read_csv

    def counting(data, **kwargs):
        reads.append(len(data))
        return read_csv(data, **kwargs)

    monkeypatch.setattr(customers, "read_csv", counting)
    tenant = make_business()
    at = signed_in(tenant.username).switch_page("pages/customer_import.py").run()
    data = b"Name,Phone,Notes\n" + b"".join(b"Client %d,21255501%02d,note\n" % (i, i) for i in range(40))
    at.file_uploader(key="import_file").upload("clients.csv", data, "text/csv").run()
    assert any("40 rows · UTF-8 · separated by commas" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == 5  # the preview
    at = at.selectbox(key="map_2").select("(don't import)").run()  # every choice reruns the page
    at = at.radio(key="on_duplicate").set_value("skip").run()
    press(at, "Check the file")
    assert not at.exception and not at.error
    assert reads == [len(data)]


def test_a_file_over_the_limit_gets_a_clear_message(signed_in, monkeypatch):
    from kaimen_core.customers import _csv_read

    monkeypatch.setattr(_csv_read, "MAX_IMPORT_BYTES", 1024 * 1024)
    monkeypatch.setattr(_csv_read.read_csv, "__kwdefaults__", {"max_bytes": 1024 * 1024})
    tenant = make_business()
    at = signed_in(tenant.username).switch_page("pages/customer_import.py").run()
    at.file_uploader(key="import_file").upload("big.csv", b"name,phone\n" + b"x," * 600_000, "text/csv")
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["The file is 1.1 MB; the limit is 1 MB. Split it into smaller files."]
