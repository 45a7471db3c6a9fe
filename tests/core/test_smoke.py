from kaimen_core import auth, db, tenancy
from tests.factories import ORIGIN, PASSWORD, make_business


def test_sign_up_then_sign_in(database):
    tenant = make_business("Smoke Salon")
    actor = auth.resolve_session(cookie=tenant.owner_cookie)
    assert actor.business_id == tenant.business_id
    signed_in = auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    with db.tenant_session(signed_in.actor) as session:
        assert tenancy.get_business(session, actor=signed_in.actor).name == "Smoke Salon"
