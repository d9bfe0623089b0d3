"""The whole portal journey in a real browser (Debian's chromium under Playwright), each person in a
browser context of their own, against `chainvault serve` on port 0. Time is never moved: a doctor
publishes a slot in the current minute, so the checkup is completed at once. Waits are for what a
page shows, never for time."""
import hashlib
import os
import re
import subprocess
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import BIN, outbox_code, outbox_mails, start_server, stop_server
from conftest import portal_open_account
from conftest import portal_sign_in as sign_in

# Installed by `make test` (scripts/install-deps.sh test); a missing browser stack fails, never skips.
from playwright import sync_api  # noqa: E402
CHROMIUM = "/usr/bin/chromium"
PATIENT_PASSWORD = "correct horse battery"
DOCTOR_PASSWORD = "a long doctor password"
ADMIN_PASSWORD = "an admin password here"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def person(browser, server):
    """A browser context of its own (cookies, downloads) that fails the test on any script error."""
    context = browser.new_context(base_url=server.portal.rstrip("/"), accept_downloads=True, timezone_id="UTC")
    page = context.new_page()
    page.data = server.data
    page.set_default_timeout(30_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page


def downloaded(page, name):
    """Downloads the report `name` from its link on the page; the SHA-256 of the file."""
    with page.expect_download() as download:
        page.get_by_role("link", name=f"Download {name}").click()
    return hashlib.sha256(open(download.value.path(), "rb").read()).digest()


def revoke(patient, grant):
    """The patient revokes the grant named `grant` (doctor and title) on the consent page."""
    patient.goto("/consent")
    patient.get_by_role("button", name=f"Revoke {grant}").click()
    patient.get_by_text("The doctor can no longer read that report.").wait_for()


def too_wide_for_a_phone(page, paths):
    """The paths of `paths` that scroll sideways on a 375 px wide screen, with their widths (issue 27, item 1): a
    table may scroll inside its own box, the page itself never."""
    page.set_viewport_size({"width": 375, "height": 812})
    wide = []
    try:
        for path in paths:
            page.goto(path)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            if width > 375:
                wide.append((path, width))
    finally:
        page.set_viewport_size({"width": 1280, "height": 720})
    return wide


def register_patient(page, name, email, born, phone):
    page.goto("/register")
    page.get_by_label("Name").fill(name)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PATIENT_PASSWORD)
    page.get_by_label("Date of birth").fill(born)
    page.get_by_label("Phone number").fill(phone)
    page.get_by_role("button", name="Create my account").click()
    portal_open_account(page, email, PATIENT_PASSWORD)
    page.wait_for_url("**/dashboard")


def publish(doctor, date, time, minutes="15"):
    doctor.goto("/calendar")
    doctor.get_by_label("Date").fill(date)
    doctor.get_by_label("Start time").fill(time)
    doctor.get_by_label("Duration").select_option(minutes)
    doctor.get_by_role("button", name="Publish").click()
    doctor.get_by_text("Slots published: 1.").wait_for()


def book(patient, doctor_name, reason):
    """From the doctor's page (the patient is on it), books the first open slot with `reason`."""
    patient.get_by_role("link", name=doctor_name).click()
    patient.get_by_role("link", name=re.compile("^Book ")).first.click()
    patient.get_by_label("Reason for your visit").fill(reason)
    patient.get_by_role("button", name="Book this appointment").click()
    patient.get_by_text("Your appointment is booked.").wait_for()


def ask(doctor, title):
    """Asks the patient for the report `title`; the request's id."""
    doctor.goto("/access")
    doctor.get_by_role("button", name=f"Ask the patient {title}").click()
    doctor.wait_for_url(re.compile(r"/access/requests/\d+"))
    return re.search(r"/access/requests/(\d+)", doctor.url).group(1)


@pytest.fixture
def hospital(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, {"CHAINVAULT_ACCESS_KEY": "PORTALJOURNEYROOT001", "CHAINVAULT_SECRET_KEY": "journey-" + uuid.uuid4().hex})
    subprocess.run([BIN, "hospital", "add-admin", "--data", str(data), "--name", "Root Admin", "root@example.org"],
                   input=ADMIN_PASSWORD + "\n", text=True, check=True, capture_output=True)
    yield server
    stop_server(server)


def test_the_whole_journey(browser, hospital, tmp_path):
    # A doctor registers; an admin approves.
    doctor = person(browser, hospital)
    doctor.goto("/register/doctor")
    doctor.get_by_label("Name").fill("Dr Carla Heart")
    doctor.get_by_label("E-mail address").fill("carla@example.org")
    doctor.get_by_label("Password").fill(DOCTOR_PASSWORD)
    doctor.get_by_label("Specialization").fill("Cardiology")
    doctor.get_by_role("button", name="Ask for a doctor's account").click()
    portal_open_account(doctor, "carla@example.org", DOCTOR_PASSWORD)
    doctor.get_by_text("An admin will check your registration").wait_for()
    admin = person(browser, hospital)
    sign_in(admin, "root@example.org", ADMIN_PASSWORD)
    admin.goto("/admin/accounts")
    admin.get_by_role("button", name="Approve Dr Carla Heart").click()
    admin.get_by_text("The doctor is approved and can sign in.").wait_for()

    # The doctor publishes a slot in the current minute (the browser's zone is UTC; the server's may differ).
    sign_in(doctor, "carla@example.org", DOCTOR_PASSWORD)
    doctor.goto("/calendar")
    zone = doctor.locator("#time-hint").inner_text().rsplit(" ", 1)[-1]
    now = datetime.now(tz=ZoneInfo(zone))
    publish(doctor, now.strftime("%Y-%m-%d"), now.strftime("%H:%M"), minutes="30")

    # A patient registers and books it with symptoms.
    patient = person(browser, hospital)
    register_patient(patient, "Ada Lovelace", "ada@example.org", "1985-04-12", "+44 20 7946 0000")
    patient.goto("/doctors")
    patient.get_by_label("Specialization").fill("cardio")
    patient.get_by_role("button", name="Search").click()
    book(patient, "Dr Carla Heart", "Chest pain when climbing stairs")

    # The doctor sees the booking with the symptoms, completes it and uploads a 3 MiB PDF.
    doctor.goto("/calendar")
    row = doctor.get_by_role("row", name=re.compile("Ada Lovelace"))
    assert "Chest pain when climbing stairs" in row.inner_text()
    row.get_by_role("button", name=re.compile("^Checkup done")).click()
    doctor.get_by_text("The checkup is marked done").wait_for()
    doctor.get_by_role("link", name=re.compile("^Upload a report Ada Lovelace")).click()
    doctor.wait_for_url(re.compile(r"/calendar/slots/\d+/report"))
    upload_page = re.search(r"/calendar/slots/\d+/report", doctor.url).group(0)
    pdf = tmp_path / "Cardiology report.pdf"
    content = b"%PDF-1.7\n" + os.urandom(3 * 1024 * 1024) + b"\n%%EOF\n"
    pdf.write_bytes(content)
    doctor.get_by_label("Report file").set_input_files(str(pdf))
    doctor.get_by_role("button", name="Upload").click()
    doctor.get_by_text("The report is stored, encrypted in pieces.").wait_for()

    # The patient downloads identical bytes.
    patient.goto("/reports")
    with patient.expect_download() as download:
        patient.get_by_role("link", name="Download Cardiology report.pdf").click()
    assert download.value.suggested_filename == "Cardiology report.pdf"
    assert hashlib.sha256(open(download.value.path(), "rb").read()).digest() == hashlib.sha256(content).digest()

    # A second doctor with an appointment asks; five wrong codes void the request; a new code opens it.
    subprocess.run([BIN, "hospital", "add-doctor", "--data", str(hospital.data), "--name", "Dr Sam Second", "--specialization", "Neurology",
                    "sam@example.org"], input=DOCTOR_PASSWORD + "\n", text=True, check=True, capture_output=True)
    second = person(browser, hospital)
    sign_in(second, "sam@example.org", DOCTOR_PASSWORD)
    publish(second, (now + timedelta(days=30)).strftime("%Y-%m-%d"), "10:00")
    patient.goto("/doctors")
    book(patient, "Dr Sam Second", "Second opinion")

    request_id = ask(second, "Cardiology report.pdf")
    code = outbox_code(hospital.data, request_id)
    patient.goto("/dashboard")
    assert patient.locator(".badge").inner_text() == "1"
    wrong = "00000000" if code != "00000000" else "11111111"
    for attempt in range(5):
        second.get_by_label("One-time code").fill(wrong)
        second.get_by_role("button", name="Open the report").click()
        if attempt < 4:
            second.get_by_text(f"The code is wrong; {4 - attempt} attempts left.").wait_for()
    second.get_by_text("This request is closed").wait_for()
    request_id = ask(second, "Cardiology report.pdf")
    second.get_by_label("One-time code").fill(outbox_code(hospital.data, request_id))
    second.get_by_role("button", name="Open the report").click()
    second.get_by_text("Access granted").wait_for()
    assert downloaded(second, "Cardiology report.pdf") == hashlib.sha256(content).digest()

    # The patient revokes and sees every step.
    revoke(patient, "Dr Sam Second Cardiology report.pdf")
    patient.goto("/history")
    timeline = patient.locator("table").inner_text()
    for step in ("Report uploaded", "Report titles listed", "Access requested", "Code sent to you", "Code entered", "refused",
                 "Access granted", "Report downloaded", "Access revoked", "Dr Sam Second", "Dr Carla Heart"):
        assert step in timeline, step
    second.goto("/access")
    assert second.get_by_text("No report is shared with you at the moment.").is_visible()

    # Asked once more, the patient allows it on the consent page instead of handing over the code (issue 27, item 4);
    # the code's e-mail named the doctor once, as typed, and never the report.
    request_id = ask(second, "Cardiology report.pdf")
    code_mail = (hospital.data / ".chainvault" / "outbox" / f"request-{request_id}.eml").read_text()
    assert "Dr Sam Second asks to read one of your reports" in code_mail and "Dr. Dr" not in code_mail
    assert "Cardiology" not in code_mail and "From: " in code_mail
    patient.goto("/consent")
    patient.get_by_role("button", name="Allow Dr Sam Second Cardiology report.pdf").click()
    patient.get_by_text("The doctor may now read that report.").wait_for()
    second.goto("/access")
    assert downloaded(second, "Cardiology report.pdf") == hashlib.sha256(content).digest()
    revoke(patient, "Dr Sam Second Cardiology report.pdf")

    # Each step that concerns someone reached them by mail, saying what happened but not what the report is.
    (approved,) = outbox_mails(hospital.data, "approved", "carla@example.org")
    assert approved["Subject"] == "Your doctor account is approved" and "/login" in approved.get_content()
    booked = outbox_mails(hospital.data, "booked", "ada@example.org", count=2)
    assert sorted(mail["Subject"] for mail in booked) == ["Your appointment with Dr Carla Heart is booked",
                                                          "Your appointment with Dr Sam Second is booked"]
    assert not any("Chest pain" in mail.get_content() for mail in booked)
    (report_mail,) = outbox_mails(hospital.data, "new_report", "ada@example.org")
    assert report_mail["Subject"] == "A new report is in your record"
    assert "Dr Carla Heart added a report" in report_mail.get_content() and "Cardiology" not in report_mail.get_content()

    # Every page each of them used fits a phone's screen.
    # Pages reached from others: a doctor's page with a slot to book, the booking form, the upload form.
    publish(second, (now + timedelta(days=31)).strftime("%Y-%m-%d"), "11:00")
    patient.goto("/doctors")
    doctor_page = patient.get_by_role("link", name="Dr Sam Second").get_attribute("href")
    patient.goto(doctor_page)
    booking_page = patient.get_by_role("link", name=re.compile("^Book ")).first.get_attribute("href")
    wide = []
    for page, paths in ((patient, ["/", "/dashboard", "/doctors", doctor_page, booking_page, "/appointments", "/reports", "/consent",
                                   "/history", "/profile"]),
                        (doctor, ["/dashboard", "/calendar", "/calendar?view=day", "/access", "/access/emergency", upload_page, "/reports",
                                  "/profile"]),
                        (admin, ["/dashboard", "/admin/accounts", "/admin/accounts?status=pending", "/admin/audit", "/admin/emergency",
                                 "/admin/emergency?status=all", "/profile"]),
                        (second, ["/access", f"/access/requests/{request_id}", "/calendar", "/calendar?view=day"])):
        wide += too_wide_for_a_phone(page, paths)
    visitor = person(browser, hospital)
    wide += too_wide_for_a_phone(visitor, ["/", "/login", "/register", "/register/doctor", "/register/activate?token=x",
                                          "/password/forgot", "/doctors"])
    assert not wide, f"pages wider than a 375 px screen: {wide}"

    # axe-core finds no violation on any page each of them used.
    from axe_playwright_python.sync_playwright import Axe
    axe = Axe()
    for page, paths in ((patient, ["/dashboard", "/doctors", "/appointments", "/reports", "/consent", "/history", "/profile"]),
                        (doctor, ["/dashboard", "/calendar", "/calendar?view=day", "/access", "/reports", "/profile"]),
                        (admin, ["/dashboard", "/admin/accounts", "/admin/audit", "/profile"]),
                        (second, ["/access", f"/access/requests/{request_id}", "/calendar"])):
        for path in paths:
            page.goto(path)
            results = axe.run(page)
            assert results.violations_count == 0, f"{path}: {results.generate_report()}"
    for page in (doctor, admin, patient, second):
        assert not page.errors, page.errors


def test_an_idle_session_ends_and_sign_in_returns_to_the_page(browser, tmp_path):
    """With a 60 s idle timeout, the portal's script reloads the page after it and the server says the
    session ended; signing in again returns to the page."""
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "PORTALIDLEROOTKEY001", "CHAINVAULT_SECRET_KEY": "idle-" + uuid.uuid4().hex},
                          args=("--session-idle-timeout", "60"))
    try:
        page = person(browser, server)
        register_patient(page, "Idle Ida", "ida@example.org", "1970-01-01", "+44 20 7946 0002")
        page.goto("/appointments")
        page.get_by_role("button", name="Stay signed in").wait_for(state="visible", timeout=90_000)
        page.wait_for_url(re.compile(r"/login\?next=/appointments&expired=1"), timeout=90_000)
        assert page.get_by_text("Your session ended").is_visible()
        page.get_by_label("E-mail address").fill("ida@example.org")
        page.get_by_label("Password").fill(PATIENT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/appointments")
        assert not page.errors, page.errors
    finally:
        stop_server(server)
