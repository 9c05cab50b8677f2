from __future__ import annotations

from reports import golden_org
from web.conftest import Site, sign_in


def test_a_manager_signs_in_and_sees_their_team(site: Site) -> None:
    client = site.client()
    first = client.get("/manager/ann@acme.test/2026-W48")
    assert first.status_code == 302 and first.headers["location"].startswith("/login?next=")
    answer = sign_in(client, golden_org.ANN, "/manager/ann@acme.test/2026-W48")
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"] == "/manager/ann@acme.test/2026-W48"
    page = client.get("/manager/ann@acme.test/2026-W48")
    assert page.status_code == 200, page.text
    assert "Gus Green" in page.text
    print(page.headers)
