"""Sessions on disk: they survive a restart, are encrypted at rest, bounded and timed out."""

from __future__ import annotations

import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import CUSTOMER
from tests.conftest import Lab
from tests.conftest import LabActions
from tests.conftest import form_fields
from webapp import create_app
from webapp.sessions import SessionStoreError


def web_app(lab: Lab, instance: Path, **config: Any) -> Any:
    """Another web app process, as after a restart: a new app on the same instance folder."""
    return create_app(
        {"TESTING": True, "INSTANCE_PATH": str(instance), **config},
        environ={"LOCAL_IDP_URL": lab.idp_url, "API_BASE_URL": lab.gateway_url},
    )


def client_with(app: Any, lab: Lab, cookie: str) -> Any:
    client = app.test_client()
    client.set_cookie("lab_session", cookie, domain="localhost")
    return client


def test_a_restart_logs_nobody_out_and_open_forms_still_work(lab: Lab, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)
    home = browser.get(f"{lab.web_url}/", timeout=5).text
    restarted = web_app(lab, Path(lab.web_app.instance_path))
    client = client_with(restarted, lab, browser.cookies["lab_session"])
    base = lab.web_url

    assert "customer@example.com" in client.get("/", base_url=base).text
    # The page loaded before the restart: its CSRF token is still good, so logout works.
    response = client.post("/logout", data=form_fields(home), base_url=base)
    assert response.status_code == 302
    assert "customer@example.com" not in client.get("/", base_url=base).text


def test_tokens_are_encrypted_at_rest_with_a_private_key(lab: Lab, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)
    instance = Path(lab.web_app.instance_path)
    tokens = lab.web_app.session_interface.load(browser.cookies["lab_session"])["tokens"]

    for name in ("secret-key", "session-encryption.key"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600, name
    blobs = b"".join(path.read_bytes() for path in (instance / "sessions").iterdir())
    assert tokens["access_token"].encode()[:40] not in blobs
    assert tokens["refresh_token"].encode() not in blobs
    # A JWT's header ({"alg": ...) always starts its base64url with eyJhbGciOi: three
    # bytes of "eyJ" could occur in ciphertext by chance, ten cannot in practice.
    assert b"customer@example.com" not in blobs and b"eyJhbGciOi" not in blobs


def test_a_store_entry_from_another_key_starts_a_new_session(
    lab: Lab, actions: LabActions, tmp_path: Path
) -> None:
    browser = actions.login(*CUSTOMER)
    instance = Path(lab.web_app.instance_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "sessions").symlink_to(instance / "sessions")
    stranger = web_app(lab, other)  # same store, another encryption key
    client = client_with(stranger, lab, browser.cookies["lab_session"])

    page = client.get("/", base_url=lab.web_url)
    assert page.status_code == 200
    assert "customer@example.com" not in page.text


def test_anonymous_logins_do_not_grow_the_store_without_limit(lab: Lab, tmp_path: Path) -> None:
    app = web_app(lab, tmp_path, SESSION_FILE_THRESHOLD=50)
    for _ in range(300):
        response = app.test_client().get("/login", base_url=lab.web_url)
        assert response.status_code == 302

    files = list((tmp_path / "sessions").iterdir())
    assert len(files) <= 52  # the threshold, plus cachelib's counter file
    assert sum(f.stat().st_size for f in files) < 100_000


def test_the_store_keeps_its_threshold_under_concurrent_writes(lab: Lab, tmp_path: Path) -> None:
    # A threaded server writes sessions at once; cachelib's own counter drifts under that
    # (hundreds of files over the threshold here), so the bound would not hold.
    app = web_app(lab, tmp_path, SESSION_FILE_THRESHOLD=50)
    store = app.session_interface.cache

    def writes(thread: int) -> None:
        for n in range(100):
            store.set(f"session-{thread}-{n}", b"x" * 100, 600)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(writes, range(16)))

    sessions = [f for f in (tmp_path / "sessions").iterdir() if not f.name.startswith("__")]
    assert len(sessions) <= 50 + 16  # the threshold, plus one write in flight per thread


def test_idle_sessions_end_and_are_purged(lab: Lab, actions: LabActions, tmp_path: Path) -> None:
    app = web_app(lab, tmp_path, SESSION_IDLE_TIMEOUT=1)
    client = app.test_client()
    login = client.get("/login", base_url=lab.web_url)
    sid = client.get_cookie("lab_session").value
    assert login.status_code == 302 and app.session_interface.load(sid) is not None

    time.sleep(2.1)
    client.get("/", base_url=lab.web_url)

    assert app.session_interface.load(sid) is None


def test_the_cookie_is_host_prefixed_and_secure_over_https(lab: Lab, tmp_path: Path) -> None:
    app = web_app(lab, tmp_path)
    response = app.test_client().get("/login", base_url="https://localhost")

    header = response.headers["Set-Cookie"]
    assert header.startswith("__Host-lab_session=")
    for part in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert part in header
    assert "Domain" not in header and "Expires" not in header
    sid = header.split(";")[0].split("=", 1)[1]
    assert len(sid) >= 43  # 256 random bits, and nothing else


def test_a_call_after_the_session_ended_says_so_in_the_result_area(
    lab: Lab, actions: LabActions
) -> None:
    browser = actions.login(*CUSTOMER)
    ping = browser.get(f"{lab.web_url}/ping", timeout=5).text
    lab.web_app.session_interface._delete_session("lab-session:" + browser.cookies["lab_session"])

    response = browser.post(
        f"{lab.web_url}/ping/call",
        data={
            **form_fields(ping),
            "api": "rest-token",
            "action": "GET /private",
            "token": "access",
        },
        headers={"X-Requested-With": "fetch"},
        timeout=5,
    )

    assert response.status_code == 401
    assert "Your session ended: log in again" in response.text
    assert "<html" not in response.text.lower() and "another site" not in response.text
    assert 'href="/login"' in response.text


def test_a_secret_key_is_made_once_per_instance_folder(lab: Lab, tmp_path: Path) -> None:
    first = web_app(lab, tmp_path).config["SECRET_KEY"]
    second = web_app(lab, tmp_path).config["SECRET_KEY"]

    assert first == second and len(first) >= 64
    assert stat.S_IMODE(os.stat(tmp_path / "secret-key").st_mode) == 0o600


def test_a_shared_store_needs_app_secret_key(tmp_path: Path) -> None:
    with pytest.raises(SessionStoreError, match="APP_SECRET_KEY"):
        create_app(
            {"TESTING": True, "INSTANCE_PATH": str(tmp_path)},
            environ={"SESSION_REDIS_URL": "redis://127.0.0.1:1/0"},
        )


def test_logout_deletes_the_stored_session(lab: Lab, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)
    sid = browser.cookies["lab_session"]
    actions.logout(browser)

    assert lab.web_app.session_interface.load(sid) is None
    profile = requests.get(
        f"{lab.web_url}/profile", cookies={"lab_session": sid}, allow_redirects=False, timeout=5
    )
    assert profile.status_code == 302 and profile.headers["Location"].endswith("/login")


def test_a_sessions_refresh_lock_never_blocks_its_own_save(lab: Lab, tmp_path: Path) -> None:
    # The refresh holds the session's refresh lock while it saves under its save lock; on
    # disk both are file locks picked by hash, and they must never be the same file.
    store = web_app(lab, tmp_path / "instance").session_interface
    for number in range(200):
        sid = f"session-{number}"
        with store.lock(f"refresh:{sid}") as refreshing, store.lock(f"save:{sid}", 0.2) as saving:
            assert refreshing and saving, sid
