"""Bulk erasure for operators: the command line and the request-file format."""

from __future__ import annotations

import pytest

from kaimen_core import cli, db, privacy
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import AuditEvent, Customer, PrivacyRequest
from tests.factories import count, make_business, rows


def _verified_deletion(tenant, *, phone: str) -> int:
    with db.system_session() as session:
        session.add(Customer(business_id=tenant.business_id, name=f"Person {phone[-4:]}", phone_e164=phone))
    with db.tenant_session(tenant.owner) as session:
        view = privacy.record_request(session, actor=tenant.owner, kind="deletion", regime="gdpr", channel="email",
                                      requester_name="Someone", phone=phone)
        privacy.verify_identity(session, actor=tenant.owner, request_id=view.id, method="Code by text")
    return view.id


def test_request_files_take_one_id_a_line_with_comments(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("# from the March batch\n12\n7, 9\n\n12\n")
    assert privacy.read_request_ids(path) == [12, 7, 9]
    path.write_text("12\nabc\n")
    with pytest.raises(ValidationError, match=r"line 2: 'abc' is not a request id"):
        privacy.read_request_ids(path)
    with pytest.raises(ValidationError, match="Cannot read"):
        privacy.read_request_ids(tmp_path / "missing.txt")


def test_the_command_line_erases_every_request_in_a_file_and_reports_progress(database, tmp_path, capsys):
    a, b = make_business(), make_business()
    first = _verified_deletion(a, phone="+12125550101")
    second = _verified_deletion(b, phone="+12125550102")
    path = tmp_path / "ids.txt"
    path.write_text(f"{first}\n{second}\n")

    assert cli.main(["privacy", "erase", "--requests-file", str(path)]) == 0

    out = capsys.readouterr().out
    assert f"[1/2] request {first}: completed" in out and f"[2/2] request {second}: completed" in out
    assert "2 erased, 0 failed." in out
    assert count(Customer) == 0
    assert {r.status for r in rows(PrivacyRequest)} == {"completed"}
    assert {e.actor_label for e in rows(AuditEvent, AuditEvent.action == "privacy.erasure.certificate")} == {
        "operator:command-line"}
    # Running it again is harmless.
    assert cli.main(["privacy", "erase", "--request", str(first)]) == 0


def test_a_request_that_cannot_run_is_reported_and_the_rest_still_run(database, capsys):
    tenant = make_business()
    good = _verified_deletion(tenant, phone="+12125550103")
    with db.tenant_session(tenant.owner) as session:
        access = privacy.record_request(session, actor=tenant.owner, kind="access", regime="gdpr", channel="email",
                                        requester_name="Someone", phone="+12125550103")
    path_ids = [access.id, good]
    results = privacy.erase_requests(path_ids, actor=privacy.COMMAND_LINE_OPERATOR)
    assert [(r.request_id, r.status) for r in results] == [(access.id, "failed"), (good, "completed")]
    assert results[0].detail == "Only a deletion request runs an erasure."
    assert cli.main(["privacy", "erase", "--request", str(access.id)]) == 1
    assert "Run the same command again" in capsys.readouterr().err
