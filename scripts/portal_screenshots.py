#!/usr/bin/env python3
"""Screenshots of the portal's main pages for docs/ (`make screenshots`): starts `chainvault serve` on
a temporary data root, fills it through the portal itself, and photographs each page in Debian's
chromium (never `playwright install`)."""
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "interop"))
from conftest import BIN, portal_open_account, portal_sign_in, start_server, stop_server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

PASSWORD = "correct horse battery"
OUT = ROOT / "docs"


def sign_in(page, email, password=PASSWORD):
    portal_sign_in(page, email, password)


def shot(page, name):
    page.screenshot(path=str(OUT / f"portal-{name}.png"), full_page=True)
    print(f"docs/portal-{name}.png")


def main():
    work = Path(tempfile.mkdtemp())
    data = work / "data"
    server = start_server(data, {"CHAINVAULT_ACCESS_KEY": "SCREENSHOTROOTKEY001", "CHAINVAULT_SECRET_KEY": "shots-" + uuid.uuid4().hex})
    try:
        for role, name, email, extra in [("add-admin", "Grace Admin", "admin@example.org", []),
                                         ("add-doctor", "Dr Carla Heart", "carla@example.org", ["--specialization", "Cardiology"]),
                                         ("add-doctor", "Dr Sam Neuro", "sam@example.org", ["--specialization", "Neurology"])]:
            subprocess.run([BIN, "hospital", role, "--data", str(data), "--name", name, *extra, email], input=PASSWORD + "\n",
                           text=True, check=True, capture_output=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            def person():
                return browser.new_context(base_url=server.portal.rstrip("/"), viewport={"width": 1100, "height": 700}).new_page()
            anonymous = person()
            anonymous.goto("/")
            shot(anonymous, "home")
            doctor = person()
            sign_in(doctor, "carla@example.org")
            doctor.goto("/calendar")
            zone = doctor.locator("#time-hint").inner_text().rsplit(" ", 1)[-1]
            now = datetime.now(tz=ZoneInfo(zone))
            doctor.get_by_label("Date").fill(now.strftime("%Y-%m-%d"))
            doctor.get_by_label("Start time").fill(now.strftime("%H:%M"))
            doctor.get_by_label("Duration").select_option("30")
            doctor.get_by_role("button", name="Publish").click()
            doctor.get_by_label("Date").fill((now + timedelta(days=1)).strftime("%Y-%m-%d"))
            doctor.get_by_label("Start time").fill("09:00")
            doctor.get_by_label("Repeat").select_option("daily5")
            doctor.get_by_role("button", name="Publish").click()
            patient = person()
            patient.goto("/register")
            for label, value in [("Name", "Ada Lovelace"), ("E-mail address", "ada@example.org"), ("Password", PASSWORD),
                                 ("Date of birth", "1985-04-12"), ("Phone number", "+44 20 7946 0000")]:
                patient.get_by_label(label).fill(value)
            shot(patient, "register")
            patient.get_by_role("button", name="Create my account").click()
            patient.data = server.data
            portal_open_account(patient, "ada@example.org", PASSWORD)
            patient.wait_for_url("**/dashboard")
            patient.goto("/doctors?specialization=cardio")
            patient.get_by_role("link", name="Dr Carla Heart").click()
            shot(patient, "doctor")
            patient.get_by_role("link", name="Book").first.click()
            patient.get_by_label("Reason for your visit").fill("Chest pain when climbing stairs, since last week.")
            shot(patient, "book")
            patient.get_by_role("button", name="Book this appointment").click()
            doctor.goto("/calendar")
            doctor.get_by_role("button", name="Checkup done").first.click()
            shot(doctor, "calendar")
            doctor.get_by_role("link", name="Upload a report").first.click()
            report = work / "ECG 12-lead.pdf"
            report.write_bytes(b"%PDF-1.7\n" + b"0" * 200_000 + b"\n%%EOF\n")
            doctor.get_by_label("Report file").set_input_files(str(report))
            doctor.get_by_role("button", name="Upload").click()
            second = person()
            sign_in(second, "sam@example.org")
            second.goto("/calendar")
            second.get_by_label("Date").fill((now + timedelta(days=7)).strftime("%Y-%m-%d"))
            second.get_by_label("Start time").fill("10:00")
            second.get_by_role("button", name="Publish").click()
            patient.goto("/doctors?specialization=neuro")
            patient.get_by_role("link", name="Dr Sam Neuro").click()
            patient.get_by_role("link", name="Book").first.click()
            patient.get_by_label("Reason for your visit").fill("Headaches")
            patient.get_by_role("button", name="Book this appointment").click()
            second.goto("/access")
            second.get_by_role("button", name="Ask the patient ECG 12-lead.pdf").click()
            second.wait_for_url("**/access/requests/**")
            shot(second, "code")
            patient.goto("/dashboard")
            shot(patient, "dashboard")
            patient.goto("/reports")
            shot(patient, "reports")
            patient.goto("/consent")
            shot(patient, "consent")
            patient.goto("/history")
            shot(patient, "history")
            admin = person()
            sign_in(admin, "admin@example.org")
            admin.goto("/admin/audit")
            shot(admin, "ledger")
            browser.close()
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
