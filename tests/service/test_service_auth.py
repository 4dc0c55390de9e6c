"""API keys, roles, sessions, throttling and the level-3 profile (R14, R25)."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import TEST_DEPLOYMENT
from faceguard import ApiKeys, ConfigError, Faceguard
from faceguard.access import totp
from faceguard.access.sessions import Sessions, Throttle
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.service import ServiceSettings, create_app
from faceguard.service.settings import SETTINGS_DOC
from pgtest import stored_bytes
from test_service_support import Service, make_service


@pytest.fixture()
def service(fg: Faceguard) -> Service:
    return make_service(fg, terminal_purposes=("access-control",))


def events(fg: Faceguard, operation: str) -> list[dict[str, object]]:
    return [vars(e) for e in fg._store.audit.events(operation=operation)]


# ---- settings ---------------------------------------------------------------------------


def test_every_setting_is_documented_on_the_docs_page(service: Service) -> None:
    names = set(ServiceSettings.__dataclass_fields__)
    assert names == set(SETTINGS_DOC)
    page = service.client.get("/-/docs").text
    assert all(f"<code>{name.upper()}</code>" in page for name in names)


def test_settings_come_from_the_environment() -> None:
    settings = ServiceSettings.from_env({"FACEGUARD_SERVICE_MAX_UPLOAD_BYTES": "1000",
                                         "FACEGUARD_SERVICE_COOKIE_SECURE": "true"})
    assert (settings.max_upload_bytes, settings.cookie_secure) == (1000, True)
    with pytest.raises(ConfigError, match="MAX_IMAGES must be a whole number"):
        ServiceSettings.from_env({"FACEGUARD_SERVICE_MAX_IMAGES": "many"})
    with pytest.raises(ConfigError, match="at least 1"):
        ServiceSettings(lockout_seconds=0)


# ---- keys -------------------------------------------------------------------------------


def test_keys_are_random_shown_once_and_stored_only_as_a_hash(service: Service,
                                                               data_dir: Path) -> None:
    response = service.client.post("/api/v1/keys", headers=service.auth("admin"),
                                   json={"role": "auditor", "holder": "Ms Audit"})
    assert response.status_code == 201
    created = response.json()
    secret = created["secret"]
    assert secret.startswith("fgk_" + created["key"]["id"][2:] + "_") and len(secret) > 50
    assert secret not in service.secrets.values()
    listed = service.client.get("/api/v1/keys", headers=service.auth("admin")).json()
    assert all(set(k) == set(created["key"]) for k in listed)  # never a secret
    assert secret not in service.client.get("/keys", headers=service.auth("admin")).text
    # the record store and its write-ahead log, if it keeps one
    stored = stored_bytes(data_dir)
    assert secret.encode() not in stored
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored
    me = service.client.get("/api/v1/me", headers={"X-API-Key": secret}).json()
    assert me["key"]["role"] == "auditor" and me["via"] == "key"


def test_no_key_or_a_bad_key_is_401(service: Service) -> None:
    missing = service.client.get("/api/v1/check")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "/-/problems#unauthenticated"
    wrong = service.client.get("/api/v1/check", headers={"Authorization": "Bearer fgk_x_y"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "unknown or revoked API key"


def test_a_wrong_role_is_403_with_the_rule_and_recorded(service: Service, fg: Faceguard
                                                        ) -> None:
    response = service.client.post("/api/v1/erasures", headers=service.auth("operator"),
                                   json={"external_id": "x"})
    assert response.status_code == 403
    body = response.json()
    assert body["rule"] == "R14" and "needs the admin role" in body["detail"]
    denied = events(fg, "access.denied")[-1]
    assert denied["outcome"] == "forbidden" and str(denied["actor"]).startswith("operator:k_")


def test_a_terminal_key_serves_only_the_purposes_it_names(service: Service) -> None:
    response = service.client.post(
        "/api/v1/purposes/attendance/identifications", headers=service.auth("terminal"),
        files={"image": ("x.jpg", b"\xff\xd8\xff" + b"0" * 100)})
    assert response.status_code == 403
    assert "serves access-control, not 'attendance'" in response.json()["detail"]


def test_a_revoked_key_stops_working_at_once(service: Service) -> None:
    store: ApiKeys = service.app.state.service.keys
    created = store.create("auditor", "temp", actor="test")
    headers = {"Authorization": f"Bearer {created.secret}"}
    assert service.client.get("/api/v1/me", headers=headers).status_code == 200
    revoked = service.client.delete(f"/api/v1/keys/{created.key.id}",
                                    headers=service.auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert service.client.get("/api/v1/me", headers=headers).status_code == 401


def test_the_last_admin_key_cannot_be_revoked_over_the_api(service: Service) -> None:
    admin = service.client.get("/api/v1/me", headers=service.auth("admin")).json()["key"]
    response = service.client.delete(f"/api/v1/keys/{admin['id']}",
                                     headers=service.auth("admin"))
    assert response.status_code == 409


# ---- throttling -------------------------------------------------------------------------


def detail_of(event: dict[str, object]) -> dict[str, object]:
    detail = event["detail"]
    assert isinstance(detail, dict)
    return detail


def from_address(service: Service, address: str) -> TestClient:
    return TestClient(service.app, client=(address, 50000))


def wrong_secret(secret: str) -> str:
    """The same key ID with another secret."""
    prefix, key_hex, _ = secret.split("_", 2)
    return f"{prefix}_{key_hex}_{'A' * 43}"


def test_failures_from_an_address_never_lock_out_a_valid_key(fg: Faceguard) -> None:
    service = make_service(fg, ServiceSettings(auth_failures=3, lockout_seconds=120))
    bad = {"Authorization": "Bearer fgk_00000000_guess"}
    assert [service.client.get("/api/v1/me", headers=bad).status_code
            for _ in range(3)] == [401, 401, 401]
    locked = service.client.get("/api/v1/me", headers=bad)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 120
    assert locked.json()["rule"] == "R25" and "from this address" in locked.json()["detail"]
    assert len(events(fg, "access.denied")) == 3  # the refusal while locked is not counted
    lockout, = events(fg, "access.locked_out")
    assert detail_of(lockout)["scope"] == "address"
    # every valid key from the same address (a proxy's) still works
    for role in ("admin", "operator", "terminal"):
        assert service.client.get("/api/v1/me", headers=service.auth(role)).status_code == 200
    assert service.client.get("/-/metrics", headers=service.auth("auditor")).status_code == 200
    # a valid key's success does not reset the address: guesses stay refused
    assert service.client.get("/api/v1/me", headers=bad).status_code == 429
    # another address is not concerned
    assert from_address(service, "10.0.0.9").get("/api/v1/me", headers=bad).status_code == 401


def test_wrong_secrets_for_a_key_id_lock_only_wrong_secrets_for_that_id(fg: Faceguard) -> None:
    service = make_service(fg, ServiceSettings(auth_failures=3, lockout_seconds=120))
    terminal = service.secrets["terminal"]
    guess = {"Authorization": f"Bearer {wrong_secret(terminal)}"}
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # spread: no address is locked
        assert from_address(service, address).get("/api/v1/me", headers=guess
                                                   ).status_code == 401
    lockout, = events(fg, "access.locked_out")
    key_id = "k_" + terminal.split("_")[1]
    assert detail_of(lockout) == {"seconds": 120, "scope": "key", "bucket": f"key:{key_id}"}
    assert detail_of(events(fg, "access.denied")[-1])["key"] == key_id
    elsewhere = from_address(service, "10.0.0.4")
    refused = elsewhere.get("/api/v1/me", headers=guess)
    assert refused.status_code == 429 and key_id in refused.json()["detail"]
    # the holder of the right secret is never refused for others' guesses
    assert elsewhere.get("/api/v1/me", headers=service.auth("terminal")).status_code == 200
    assert from_address(service, "10.0.0.1").get(
        "/api/v1/me", headers=service.auth("terminal")).status_code == 200
    # nor is any other key: a wrong secret for another ID is a plain 401
    other = {"Authorization": f"Bearer {wrong_secret(service.secrets['operator'])}"}
    assert elsewhere.get("/api/v1/me", headers=other).status_code == 401


def test_failed_logins_lock_out_invalid_keys_not_valid_ones(fg: Faceguard) -> None:
    service = make_service(fg, ServiceSettings(auth_failures=2))
    for _ in range(2):
        page = service.client.post("/-/login", data={"key": "fgk_nope_nope"})
        assert page.status_code == 401 and "not valid" in page.text
    assert service.client.post("/-/login", data={"key": "fgk_nope_nope"}).status_code == 429
    done = service.client.post("/-/login", data={"key": service.secrets["admin"]},
                               follow_redirects=False)
    assert done.status_code == 303 and done.cookies.get("fg_session")


def test_throttle_window_and_lockout_expire(fg: Faceguard) -> None:
    now = [1000.0]
    throttle = Throttle(fg._store.records, 3, 60, 300, clock=lambda: now[0])
    assert not throttle.fail("a") and not throttle.fail("a")
    now[0] += 61  # the first two fall out of the window
    assert not throttle.fail("a") and not throttle.fail("a")
    assert throttle.fail("a")
    assert throttle.retry_after("a") == 300 and throttle.retry_after("b") is None
    now[0] += 301
    assert throttle.retry_after("a") is None


def test_sessions_end_when_idle_after_their_maximum_and_with_their_key(fg: Faceguard
                                                                      ) -> None:
    now = [0.0]
    sessions = Sessions(fg._store.records, idle_seconds=60, max_seconds=200,
                        clock=lambda: now[0])
    token = sessions.create("k_1", second_factor=False)
    for _ in range(3):
        now[0] += 59
        assert sessions.get(token) is not None
    now[0] += 30  # 207 s after login
    assert sessions.get(token) is None
    idle = sessions.create("k_1", second_factor=False)
    now[0] += 61
    assert sessions.get(idle) is None
    other = sessions.create("k_2", second_factor=False)
    sessions.end_key("k_2")
    assert sessions.get(other) is None


def test_sessions_and_lockouts_are_shared_by_every_worker(data_dir: Path,
                                                          engine: DlibEngine) -> None:
    """Two processes' worth of Faceguard on one store (as two workers are): a session made
    on one is valid on the other, ended on either ends it for both, and failures counted on
    both lock the bucket for both."""
    with Faceguard.open(data_dir, engine=engine) as one, \
            Faceguard.open(data_dir, engine=engine) as two:
        a, b = one.shared.sessions(60, 600), two.shared.sessions(60, 600)
        token = a.create("k_1", second_factor=True)
        seen = b.get(token)
        assert seen is not None and seen.key_id == "k_1" and seen.second_factor
        b.end(token)
        assert a.get(token) is None
        ta, tb = one.shared.throttle(4, 60, 300), two.shared.throttle(4, 60, 300)
        assert not ta.fail("addr:10.0.0.9") and not tb.fail("addr:10.0.0.9")
        assert not ta.fail("addr:10.0.0.9") and tb.fail("addr:10.0.0.9")
        assert ta.retry_after("addr:10.0.0.9") is not None
        assert ta.locked_clients == tb.locked_clients == 1


# ---- browser sessions -------------------------------------------------------------------


def test_login_sets_an_httponly_strict_cookie_without_the_key(service: Service) -> None:
    client = service.client
    response = client.post("/-/login", data={"key": service.secrets["admin"],
                                              "next": "/record"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/record"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert service.secrets["admin"] not in cookie
    assert client.get("/dashboard").status_code == 200
    assert client.get("/api/v1/me").json()["via"] == "session"
    # a form posted from elsewhere (no Origin of this site) is refused
    forged = client.post("/notices", data={"purpose": "attendance"}, follow_redirects=False)
    assert forged.status_code == 403 and "cross-site" in forged.json()["detail"]
    ours = client.post("/notices", data={"purpose": "attendance"}, follow_redirects=False,
                       headers={"Origin": "http://testserver"})
    assert ours.status_code == 303
    client.post("/-/logout", headers={"Origin": "http://testserver"})
    assert client.get("/dashboard").status_code == 401


def test_a_kiosk_session_reaches_only_the_kiosk(service: Service) -> None:
    client = service.client
    client.post("/-/login", data={"key": service.secrets["operator"], "next": "/kiosk"})
    assert client.get("/kiosk").status_code == 200
    for path in ("/subjects", "/dashboard.json", "/api/v1/me"):
        response = client.get(path)
        assert response.status_code == 403 and "kiosk only" in response.json()["detail"]
    # the same key from the desk (a normal session) sees the people
    desk = TestClient(service.app)
    desk.post("/-/login", data={"key": service.secrets["operator"], "next": "/subjects"})
    assert desk.get("/subjects").status_code == 200


def test_login_redirects_only_to_this_site(service: Service) -> None:
    response = service.client.post("/-/login", data={"key": service.secrets["auditor"],
                                                      "next": "//evil.example/x"},
                                   follow_redirects=False)
    assert response.headers["location"] == "/dashboard"


def test_a_browser_without_a_session_is_sent_to_the_login_page(service: Service) -> None:
    response = service.client.get("/record?before=5", headers={"Accept": "text/html"},
                                  follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/-/login?next=%2Frecord%3Fbefore%3D5"


# ---- protection level 3 (R25) -----------------------------------------------------------


@pytest.fixture()
def level3(data_dir: Path, engine: DlibEngine) -> Iterator[Faceguard]:
    config = TEST_DEPLOYMENT.replace("protection_level = 2", "protection_level = 3")
    (data_dir / "faceguard.toml").write_text(config, encoding="utf-8")
    with Faceguard.open(data_dir, engine=engine) as fg:
        yield fg


def totp_secret(created_secret: str | None) -> bytes:
    assert created_secret is not None
    return base64.b32decode(created_secret + "=" * (-len(created_secret) % 8))


def test_level3_refuses_to_start_without_separate_keys_and_totp(level3: Faceguard) -> None:
    with pytest.raises(ConfigError) as refused:
        create_app(level3)
    assert refused.value.rule == "R25"
    assert "no active admin key" in str(refused.value)
    store = level3.api_keys
    admin = store.create("admin", "DPO Wang", actor="test")
    assert admin.key.has_totp and admin.totp_uri and admin.totp_uri.startswith("otpauth://")
    with pytest.raises(ConfigError, match="already holds the admin role") as twice:
        store.create("auditor", "DPO Wang", actor="test")
    assert twice.value.rule == "R25"
    store.create("auditor", "Auditor Li", actor="test")
    with pytest.raises(ConfigError, match="no active operator key"):
        create_app(level3)
    store.create("operator", "Operator Zhao", actor="test")
    create_app(level3)  # configured: it starts


def test_level3_admin_actions_need_a_fresh_totp_code(level3: Faceguard) -> None:
    store = level3.api_keys
    admin = store.create("admin", "DPO Wang", actor="test")
    operator = store.create("operator", "Operator Zhao", actor="test")
    store.create("auditor", "Auditor Li", actor="test")
    client = TestClient(create_app(level3))
    key = {"Authorization": f"Bearer {admin.secret}"}
    missing = client.get("/api/v1/keys", headers=key)
    assert missing.status_code == 401 and missing.json()["rule"] == "R25"
    assert missing.json()["type"] == "/-/problems#second-factor"
    secret = totp_secret(admin.totp_secret)
    code = totp.code_at(secret)
    assert client.get("/api/v1/keys", headers={**key, "X-TOTP": code}).status_code == 200
    replay = client.get("/api/v1/keys", headers={**key, "X-TOTP": code})
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]
    later = totp.code_at(secret, time.time() + 30)
    assert client.get("/api/v1/keys", headers={**key, "X-TOTP": later}).status_code == 200
    # other roles need no second factor
    assert client.get("/api/v1/me", headers={"X-API-Key": operator.secret}).status_code == 200
    # the login page asks admins for the code
    page = client.post("/-/login", data={"key": admin.secret})
    assert page.status_code == 401 and "6-digit code" in page.text


def test_wrong_totp_codes_lock_out_that_admin_key_only(level3: Faceguard) -> None:
    store = level3.api_keys
    admin = store.create("admin", "DPO Wang", actor="test")
    operator = store.create("operator", "Operator Zhao", actor="test")
    store.create("auditor", "Auditor Li", actor="test")
    client = TestClient(create_app(level3, ServiceSettings(auth_failures=3)))
    key = {"Authorization": f"Bearer {admin.secret}"}
    secret = totp_secret(admin.totp_secret)
    right = totp.code_at(secret)
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    for _ in range(3):
        assert client.get("/api/v1/keys", headers={**key, "X-TOTP": wrong}).status_code == 401
    # whoever holds the secret guesses codes: that key is refused, even with the right code
    locked = client.get("/api/v1/keys", headers={**key, "X-TOTP": right})
    assert locked.status_code == 429 and admin.key.id in locked.json()["detail"]
    assert client.post("/-/login", data={"key": admin.secret, "totp": right}
                       ).status_code == 429
    lockout, = [vars(e) for e in level3._store.audit.events(operation="access.locked_out")]
    assert detail_of(lockout)["scope"] == "second-factor"
    # other keys, from the same address, are not concerned
    assert client.get("/api/v1/me", headers={"X-API-Key": operator.secret}).status_code == 200


def test_totp_matches_rfc_6238() -> None:
    secret = b"12345678901234567890"  # RFC 6238 appendix B, SHA-1
    assert totp.code_at(secret, 59) == "287082"  # 94287082, last six digits
    assert totp.verify(secret, "287082", when=59) == 1
    assert totp.verify(secret, "287082", when=59, after_step=1) is None
    assert totp.verify(secret, "287082", when=59 + 90) is None  # outside the drift window
    assert totp.verify(secret, "28708x", when=59) is None
    assert totp.verify(secret, "", when=59) is None


def test_no_route_takes_a_body_beyond_the_largest_limit(service: Service) -> None:
    """Forms are parsed by Starlette, which would hold a thousand fields of a megabyte each
    in memory: every body is capped at the largest limit a route has (413)."""
    settings = service.app.state.service.settings
    cap = max(settings.max_upload_bytes, settings.max_liveness_bytes)
    field = b"key=" + b"x" * (cap + 1)
    declared = service.client.post("/-/login", content=field,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert declared.status_code == 413 and declared.json()["type"].endswith("too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"key=x"  # then fields of half a megabyte, each within Starlette's own limits
        for number in range(cap // (1 << 19) + 2):
            yield b"&f%d=" % number + b"x" * (1 << 19)

    streamed = service.client.post("/-/login", content=chunks(),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert streamed.status_code == 413
    assert service.client.get("/-/health").status_code == 200
