/// The pages of signing in, signing up and resetting a password, and the overviews and doctor pages
/// anyone reaches first (``PortalController``).

struct HomePage: PortalPage {
    static let template = PortalTemplate.home
}

struct LoginPage: PortalPage {
    static let template = PortalTemplate.login
    /// Where to go once signed in (a path of this site).
    var next = ""
    /// The session ended while the person was away.
    var expired = false
    /// The address typed, shown again after a refusal.
    var email: String?
    var error: String?
    var notice: String?
}

struct ForgotPage: PortalPage {
    static let template = PortalTemplate.forgot
    var sent = false
    var error: String?
}

struct ResetPage: PortalPage {
    static let template = PortalTemplate.reset
    var token: String
    var error: String?
}

struct ActivatePage: PortalPage {
    static let template = PortalTemplate.activate
    var token: String?
    /// A doctor's account is open and waits for an admin.
    var pending = false
    var error: String?
}

/// One field of a sign-up form.
struct RegistrationField {
    var name: String
    var label: String
    var type: String
    var autocomplete: String
    var required = true
    /// What was typed (never a password).
    var value: String
    var hint: String?
    var problem: String?
}

struct RegisterPage: PortalPage {
    static let template = PortalTemplate.register
    var fields: [RegistrationField] = []
    var error: String?
    var sent = false
}

struct DoctorRegisterPage: PortalPage {
    static let template = PortalTemplate.registerDoctor
    var fields: [RegistrationField] = []
    var error: String?
    var sent = false
}

/// A report as the overviews list it.
struct ReportRow {
    var title: String
    var doctor: String
    var patient: String
    var date: String
    var size: String
}

struct PatientDashboardPage: PortalPage {
    static let template = PortalTemplate.dashboardPatient

    struct Appointment {
        var when: String
        var doctor: String
        var status: String
    }

    var appointments: [Appointment]
    var hasAppointments: Bool
    var reports: [ReportRow]
    var hasReports: Bool
    /// Grants running on the patient's reports.
    var grants: String
    /// Doctors waiting for a code, when any are.
    var pending: String?

    init(appointments: [Appointment], reports: [ReportRow], grants: String, pending: String?) {
        self.appointments = appointments
        hasAppointments = !appointments.isEmpty
        self.reports = reports
        hasReports = !reports.isEmpty
        self.grants = grants
        self.pending = pending
    }
}

struct DoctorDashboardPage: PortalPage {
    static let template = PortalTemplate.dashboardDoctor

    struct Slot {
        var when: String
        var patient: String
        var status: String
    }

    var slots: [Slot]
    var hasSlots: Bool
    var reports: [ReportRow]
    var hasReports: Bool
    var setUpTwoStep: Bool

    init(slots: [Slot], reports: [ReportRow], setUpTwoStep: Bool) {
        self.slots = slots
        hasSlots = !slots.isEmpty
        self.reports = reports
        hasReports = !reports.isEmpty
        self.setUpTwoStep = setUpTwoStep
    }
}

struct AdminDashboardPage: PortalPage {
    static let template = PortalTemplate.dashboardAdmin
    var setUpTwoStep: Bool
    /// Doctors waiting for approval, when any are.
    var pending: String?
}

struct DoctorsPage: PortalPage {
    static let template = PortalTemplate.doctors

    struct Doctor {
        var id: String
        var name: String
        var specialization: String
    }

    var doctors: [Doctor]
    var hasDoctors: Bool
    var specialization: String
    var nameQuery: String

    init(doctors: [Doctor], specialization: String, nameQuery: String) {
        self.doctors = doctors
        hasDoctors = !doctors.isEmpty
        self.specialization = specialization
        self.nameQuery = nameQuery
    }
}

struct DoctorPage: PortalPage {
    static let template = PortalTemplate.doctor

    struct Doctor {
        var name: String
        var specialization: String
        var about: String
    }

    struct Slot {
        var id: String
        var when: String
        var minutes: String
        var canBook: Bool
        var signInToBook: Bool
    }

    var doctor: Doctor
    var slots: [Slot]
    var hasSlots: Bool

    init(doctor: Doctor, slots: [Slot]) {
        self.doctor = doctor
        self.slots = slots
        hasSlots = !slots.isEmpty
    }
}

/// The second step of a sign-in: the code of the authenticator app or a recovery code.
struct LoginCodePage: PortalPage {
    static let template = PortalTemplate.loginCode
    var challenge: String
    var next: String
    var error: String?
}

/// Binding an authenticator app: its secret, as text, a link and a QR code.
struct TwoStepPage: PortalPage {
    static let template = PortalTemplate.twoStep

    /// The link as a QR code: an SVG path on a square of `size` modules.
    struct QR {
        var size: String
        var path: String
    }

    var secret: String
    var url: String
    var qr: QR?
    var error: String?
}

/// The recovery codes, shown once when the second step is turned on.
struct TwoStepCodesPage: PortalPage {
    static let template = PortalTemplate.twoStepCodes
    var codes: [String]
}

/// A person's own details, password, time zone and second step.
struct ProfilePage: PortalPage {
    static let template = PortalTemplate.profile

    struct Zone {
        var name: String
        var selected: Bool
    }

    var name: String
    var email: String
    var role: String
    var phone: String
    var isPatient: Bool
    var isDoctor: Bool
    var zones: [Zone]
    var specialization: String
    var about: String
    var defaultZone: String
    var twoStepOn: Bool
    var detailsError: String?
    var passwordError: String?
    var notice: String?
}
