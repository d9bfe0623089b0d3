@testable import HospitalPortal

/// The tags of the portal's templates, and an example of every typed page, for ``PortalTests``.
enum PortalTemplateTags {
    struct Tag {
        /// `#`, `^`, `/` or empty for a value.
        var kind: String
        /// As written: `name`, `t.key`, `doctor.name`.
        var name: String
        /// The first part of a dotted name.
        var root: String { String(name.prefix { $0 != "." }) }
    }

    /// The value and section tags of `text` (not blocks, parents, partials or comments, nor `{{.}}`).
    static func tags(in text: String) -> [Tag] {
        text.matches(of: /\{\{([#^\/$<>!&]?)\s*([^}]*?)\s*\}\}/).compactMap { match in
            let kind = String(match.1)
            let name = String(match.2)
            guard !["$", "<", ">", "!", "/"].contains(kind), name != "." else { return nil }
            return Tag(kind: kind, name: name)
        }
    }

    /// Every property name of `value`, of the rows and optionals it holds, at any depth.
    static func names(of value: Any) -> Set<String> {
        var found = Set<String>()
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional, .collection, .set:
            for child in mirror.children { found.formUnion(names(of: child.value)) }
        case .struct, .class:
            for child in mirror.children {
                if let label = child.label { found.insert(label) }
                found.formUnion(names(of: child.value))
            }
        default: break
        }
        return found
    }

    static let exampleUser = PortalFrame.User(
        name: "Ada", roleName: "Patient", isPatient: true, isDoctor: false, isAdmin: false, idleSeconds: 900, formToken: "token")

    /// One of every typed page, each optional filled and each list with a row, so that reflection sees
    /// every name.
    static let examples: [any PortalPage] = [
        ErrorPage(heading: "Not found", message: "No such page.", action: .init(path: "/logout", label: "Sign out")),
        HomePage(),
        LoginPage(next: "/reports", expired: true, email: "ada@example.org", error: "Wrong password.", notice: "Signed out."),
        ForgotPage(sent: true, error: "Wait."),
        ResetPage(token: "t", error: "Expired."),
        ActivatePage(token: "t", pending: true, error: "Wrong password."),
        RegisterPage(fields: [field], error: "Taken.", sent: true),
        DoctorRegisterPage(fields: [field], error: "Taken.", sent: true),
        PatientDashboardPage(
            appointments: [.init(when: "Mon", doctor: "Dr D", status: "booked")], reports: [report], grants: "1", pending: "2"),
        DoctorDashboardPage(slots: [.init(when: "Mon", patient: "Ada", status: "booked")], reports: [report], setUpTwoStep: true),
        AdminDashboardPage(setUpTwoStep: true, pending: "1"),
        DoctorsPage(doctors: [.init(id: "1", name: "Dr D", specialization: "Cardiology")], specialization: "card", nameQuery: "D"),
        DoctorPage(
            doctor: .init(name: "Dr D", specialization: "Cardiology", about: "Twenty years."),
            slots: [.init(id: "1", when: "Mon", minutes: "15", canBook: true, signInToBook: true)]),
        LoginCodePage(challenge: "c", next: "/reports", error: "Wrong code."),
        TwoStepPage(secret: "ABCD EFGH", url: "otpauth://totp/x", qr: .init(size: "29", path: "M0 0h1v1H0z"), error: "Wrong code."),
        TwoStepCodesPage(codes: ["abcd-efgh-ijkl-mnop"]),
        ReportsPage(reports: [
            .init(
                id: "1", title: "Echo", doctor: "Dr D", patient: "Ada", date: "Mon", size: "3 KB", sha256: "3f1c", fingerprint: "3f1c",
                damaged: "Damaged on Mon", verified: "Verified on Mon")
        ]),
        UploadPage(id: "1", patient: "Ada", when: "Mon", limit: "1 GB", reportTitle: "Echo", error: "Empty file."),
        AccessPage(
            grants: [.init(reportId: "1", title: "Echo", patient: "Ada", left: "5 minutes", emergency: true)],
            requests: [.init(id: "1", title: "Echo", patient: "Ada", pending: true, status: "pending")],
            requestable: [.init(id: "1", title: "Echo", patient: "Ada", author: "Dr D", date: "Mon")], notice: "Asked."),
        CodePage(
            id: "1", title: "Echo", patient: "Ada", expires: "Mon", attemptsLeft: "4", closed: "Closed.", problem: "Wrong code.",
            notice: "Sent."),
        EmergencyPage(
            lead: "Opens for an hour.", name: "Ada", dateOfBirth: "1985-04-12", reason: "Unconscious", problem: "Why?", error: "No."),
        ConsentPage(
            requests: [.init(id: "1", doctor: "Dr D", specialization: "Cardiology", title: "Echo", expires: "Mon")],
            grants: [.init(id: "1", doctor: "Dr D", title: "Echo", left: "5 minutes")], notice: "Revoked."),
        HistoryPage(
            entries: [
                .init(
                    when: "Mon", who: "Dr D", what: "downloaded", title: "Echo", outcome: "success", id: "1", verified: true,
                    reason: "Unconscious")
            ], actions: [.init(value: "", label: "All", selected: true)], proofLead: "Check with the key."),
        BookPage(id: "1", doctor: "Dr D", when: "Mon", minutes: "15", reason: "Chest pain", problem: "Say why.", error: "Taken."),
        AppointmentsPage(
            upcoming: [.init(id: "1", when: "Mon", doctor: "Dr D", reason: "Chest pain", canCancel: true)],
            past: [.init(when: "Mon", doctor: "Dr D", status: "completed")], notice: "Booked."),
        CalendarPage(
            days: [
                .init(
                    heading: "Monday",
                    slots: [
                        .init(
                            id: "1", when: "Mon", day: "2026-12-07", status: "booked", patient: "Ada", age: "41", reason: "Chest pain",
                            canWithdraw: true, canComplete: true, canUpload: true, canCancel: true)
                    ], hasSlots: true)
            ], hasSlots: true, zone: "UTC", period: "Week 50", isWeek: true, previous: "/calendar?date=1", next: "/calendar?date=2",
            today: "/calendar", switchView: "/calendar?view=day", date: "2026-12-07", time: "09:00",
            durations: [.init(value: "15", label: "15", selected: true)], repeats: [.init(value: "once", label: "Once", selected: true)],
            error: "Overlaps.", notice: "Published."),
        AdminAccountsPage(
            pending: [.init(id: "2", name: "Dr E", email: "e@example.org", specialization: "Dermatology")], hasPending: true,
            pendingCount: "1",
            accounts: [
                .init(
                    id: "1", name: "Ada", email: "ada@example.org", role: "Patient", status: "Active", canDisable: true, canEnable: true,
                    throttled: true, canResetTwoStep: true)
            ], search: "ada", roles: [.init(value: "", label: "Any", selected: true)],
            statuses: [.init(value: "", label: "Any", selected: true)], newName: "Dr F", newEmail: "f@example.org",
            newSpecialization: "Surgery", error: "Taken.", notice: "Approved."),
        AdminAuditPage(
            entries: [
                .init(
                    id: "1", when: "Mon", who: "Dr D", what: "downloaded", subject: "Echo (report:1)", patient: "Ada", outcome: "success",
                    detail: "")
            ], hasEntries: true, verification: "Intact.", verificationClass: "notice", patient: "Ada", actor: "Dr", from: "2026-12-01",
            to: "2026-12-07", query: "patient=Ada", actions: [.init(value: "", label: "All", selected: true)],
            outcomes: [.init(value: "", label: "Any", selected: true)]),
        AdminEmergencyPage(
            entries: [
                .init(
                    id: "1", when: "Mon", doctor: "Dr D", patient: "Ada", title: "Echo", reason: "Unconscious", reviewed: "Tue (Ann)",
                    isReviewed: true)
            ], all: true, notice: "Reviewed."),
        ProfilePage(
            name: "Ada", email: "ada@example.org", role: "Patient", phone: "+44", isPatient: true, isDoctor: true,
            zones: [.init(name: "UTC", selected: true)], specialization: "Cardiology", about: "Twenty years.", defaultZone: "UTC",
            twoStepOn: true, detailsError: "Bad phone.", passwordError: "Wrong password.", notice: "Saved."),
    ]

    static let field = RegistrationField(
        name: "email", label: "E-mail", type: "email", autocomplete: "email", value: "ada@example.org", hint: "Yours.",
        problem: "Not an address.")
    static let report = ReportRow(title: "Echo", doctor: "Dr D", patient: "Ada", date: "Mon", size: "3 KB")
}
