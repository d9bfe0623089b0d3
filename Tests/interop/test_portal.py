"""The hospital portal in a real browser: Debian's chromium driven by Playwright (never `playwright
install`). Each test waits for what the page shows, never for time."""
import importlib.metadata
import re
import subprocess
import uuid

import pytest

from conftest import BIN, activation_path, portal_open_account

# Installed by `make test` (scripts/install-deps.sh test); a missing browser stack fails, never skips.
from playwright import sync_api  # noqa: E402
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
        # Debian's chromium follows security updates: both versions, for when they drift apart.
        print(f"playwright {importlib.metadata.version('playwright')} driving {version} (browser {browser.version})")
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.portal.rstrip("/"))
    page = context.new_page()
    page.data = server.data
    problems = []
    # Script errors and CSP violations; a page answered 4xx on purpose (a refused sign-in) is not one,
    # but a style sheet, script or icon that fails to load is.
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and response.request.resource_type != "document" else None)
    yield page
    context.close()
    assert not problems, f"the browser reported errors (a CSP violation, a script error): {problems}"


def register(page, email, name="Ada Lovelace"):
    page.goto("/register")
    page.get_by_label("Name").fill(name)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Date of birth").fill("1985-04-12")
    page.get_by_label("Phone number").fill("+44 20 7946 0000")
    page.get_by_role("button", name="Create my account").click()
    portal_open_account(page, email, PASSWORD)
    page.wait_for_url("**/dashboard")


def test_the_portal_address_is_printed_and_serves_the_home_page(server, page):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server.portal), server.portal
    page.goto("/")
    assert page.get_by_role("heading", level=1).inner_text() == "ChainVault Hospital"
    for door in ("Patients", "Doctors", "Staff"):
        assert page.get_by_role("heading", name=door).is_visible()


def test_a_patient_registers_signs_out_and_signs_in_again(page):
    email = f"ada-{uuid.uuid4().hex[:8]}@example.org"
    register(page, email, name="<img src=x onerror=alert(1)> Ada")
    assert page.get_by_role("heading", name="Your overview").is_visible()
    assert "<img src=x onerror=alert(1)> Ada" in page.locator("header").inner_text(), "the name shows as text"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login?signed_out=1")
    assert page.get_by_role("status").inner_text() == "You are signed out."
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=/dashboard")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "The e-mail address or the password is wrong."
    assert page.get_by_label("E-mail address").input_value() == email
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")


def test_registration_errors_stand_beside_their_field(page):
    page.goto("/register")
    page.get_by_label("Name").fill("Grace Hopper")
    page.get_by_label("E-mail address").fill(f"grace-{uuid.uuid4().hex[:8]}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Phone number").fill("+1 555 0100")
    page.get_by_role("button", name="Create my account").click()
    field = page.get_by_label("Date of birth")
    assert field.get_attribute("aria-invalid") == "true"
    problem = page.locator("#" + field.get_attribute("aria-describedby"))
    assert problem.is_visible() and problem.inner_text()
    assert page.get_by_label("Name").input_value() == "Grace Hopper", "the submitted values are kept"
    assert page.get_by_label("Password").input_value() == "", "a password is never sent back"


def test_registration_works_from_the_keyboard_alone(page):
    page.goto("/register")
    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.get_by_label("Name").focus()
    email = f"keys-{uuid.uuid4().hex[:8]}@example.org"
    for value in ("Keyboard Only", email, PASSWORD):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") != "INPUT":
            page.keyboard.press("Tab")
    page.keyboard.type("1990-01-31")
    page.keyboard.press("Tab")
    page.keyboard.type("+44 20 7946 0001")
    page.keyboard.press("Enter")
    page.get_by_text("We have sent a link").wait_for()
    page.goto(activation_path(page.data, email))
    page.get_by_label("Password").focus()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard")


def test_the_doctor_directory_finds_doctors_by_specialization(server, page):
    email = f"house-{uuid.uuid4().hex[:8]}@example.org"
    subprocess.run([BIN, "hospital", "add-doctor", "--data", str(server.data), "--name", "Dr Gregory House",
                    "--specialization", "Diagnostic Medicine", email], input="a long doctor password\n", text=True, check=True,
                   capture_output=True)
    page.goto("/doctors")
    page.get_by_label("Specialization").fill("diagnostic")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Dr Gregory House").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Dr Gregory House"
    assert page.get_by_text("Diagnostic Medicine").is_visible()


def test_no_page_has_an_accessibility_violation(page):
    from axe_playwright_python.sync_playwright import Axe
    axe = Axe()
    pages = ["/", "/login", "/register", "/register/doctor", "/register/activate?token=x", "/doctors"]
    for path in pages:
        page.goto(path)
        results = axe.run(page)
        assert results.violations_count == 0, f"{path}: {results.generate_report()}"
    register(page, f"axe-{uuid.uuid4().hex[:8]}@example.org")
    results = axe.run(page)
    assert results.violations_count == 0, f"/dashboard: {results.generate_report()}"


def test_the_hospital_port_serves_https_with_secure_host_cookies(tmp_path):
    """--hospital-tls-cert/--hospital-tls-key: the portal and the API over HTTPS; without a portal URL
    the portal takes its own address as https, so its cookies are Secure with the __Host- prefix."""
    import ssl
    import urllib.request
    from conftest import start_server, stop_server, tool

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "PORTALTLSROOTKEY0001", "CHAINVAULT_SECRET_KEY": "tls-" + uuid.uuid4().hex},
                          args=("--hospital-tls-cert", str(cert), "--hospital-tls-key", str(key)))
    try:
        assert server.hospital.startswith("https://") and server.portal.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(server.portal, context=context, timeout=30) as response:
            assert response.status == 200
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
            cookie = response.headers["Set-Cookie"]
            assert cookie.startswith("__Host-chainvault-form=") and "Secure" in cookie and "Path=/" in cookie
        with urllib.request.urlopen(server.hospital + "/openapi.json", context=context, timeout=30) as response:
            assert response.status == 200
    finally:
        stop_server(server)


def authenticator_code(base32_key: str) -> str:
    """What an authenticator app shows now for a key (RFC 6238: HMAC-SHA1 of the 30-second step, 6 digits)."""
    import base64
    import hashlib
    import hmac
    import struct
    import time
    key = base64.b32decode(base32_key.replace(" ", "") + "=" * (-len(base32_key.replace(" ", "")) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def test_two_step_sign_in_is_set_up_from_the_profile_and_asked_for_after_the_password(page, tmp_path):
    from axe_playwright_python.sync_playwright import Axe
    axe = Axe()
    email = f"twostep-{uuid.uuid4().hex[:8]}@example.org"
    register(page, email)
    page.goto("/profile")
    # Binding an authenticator takes the password again (issue 27, N3): a stolen session alone cannot.
    page.get_by_label("Your password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Set up two-step sign-in").click()
    key = page.locator("#secret").inner_text()
    link = page.get_by_role("link", name="Open in the authenticator app").get_attribute("href")
    assert link.startswith("otpauth://totp/")
    # The QR code on the page reads, as a phone's camera reads it, as the same link (issue 27, item 8).
    picture = tmp_path / "qr.png"
    page.locator("#qr").screenshot(path=str(picture))
    scanned = subprocess.run(["zbarimg", "--quiet", "--raw", str(picture)], capture_output=True, text=True, timeout=60)
    assert scanned.returncode == 0 and scanned.stdout.strip() == link, scanned.stdout + scanned.stderr
    assert axe.run(page).violations_count == 0
    page.get_by_label("Code from the app").fill(authenticator_code(key))
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    recovery = page.locator("ul.codes li").all_inner_texts()
    assert len(recovery) == 10 and all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", code) for code in recovery)
    assert axe.run(page).violations_count == 0

    page.get_by_role("button", name="Sign out").click()
    page.goto("/login?next=/profile")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Enter your sign-in code").wait_for()
    assert axe.run(page).violations_count == 0
    page.get_by_label("Code from your authenticator app, or a recovery code").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    assert "attempts left" in page.get_by_role("alert").inner_text()
    # A recovery code works in place of the app's code, once; the page returns where sign-in began.
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(recovery[0])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/profile")
    assert page.get_by_text("Two-step sign-in is on").is_visible()


def tab_to(page, text, limit=80):
    """Presses Tab until the focused element's text, label or aria-label contains `text`."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            return [e.innerText || '', e.getAttribute('aria-label') || '', e.labels && e.labels[0] ? e.labels[0].innerText : ''].join(' | '); }""")
        if text in focused:
            return
        seen.append(focused)
    raise AssertionError(f"Tab never reached {text!r} on {page.url}: {seen[:30]}")


def test_booking_works_from_the_keyboard_alone(server, page):
    import datetime
    import json
    import urllib.request
    email = f"keys-doctor-{uuid.uuid4().hex[:8]}@example.org"
    name = f"Dr Keys {uuid.uuid4().hex[:4]}"
    subprocess.run([BIN, "hospital", "add-doctor", "--data", str(server.data), "--name", name, "--specialization", "Keyboard Medicine",
                    email], input="a long doctor password\n", text=True, check=True, capture_output=True)

    def api(path, body, token=None):
        request = urllib.request.Request(server.portal.rstrip("/") + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {token}"} if token else {})})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    token = api("/api/sessions", {"email": email, "password": "a long doctor password"})["token"]
    start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    api("/api/slots", {"startsAt": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "durationMinutes": 20}, token)

    register(page, f"keys-patient-{uuid.uuid4().hex[:8]}@example.org")
    page.goto("/doctors")
    tab_to(page, "Specialization")
    page.keyboard.type("Keyboard Medicine")
    page.keyboard.press("Enter")
    page.wait_for_url("**/doctors?*")
    tab_to(page, name)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=name).wait_for()
    tab_to(page, "Book")
    page.keyboard.press("Enter")
    page.wait_for_url("**/slots/*/book")
    tab_to(page, "Reason for your visit")
    page.keyboard.type("Typed without a mouse")
    tab_to(page, "Book this appointment")
    page.keyboard.press("Enter")
    page.get_by_text("Your appointment is booked.").wait_for()
    assert "Typed without a mouse" in page.locator("main").inner_text()
