import Mustache

/// A page of the portal: the template it fills and, as its stored properties, every value the template
/// names beyond what every page has (``PortalFrame``). A test reads each template's tags and checks each
/// name against its page's properties and the catalogue, so a misspelt key fails rather than renders
/// empty.
protocol PortalPage: Sendable {
    static var template: PortalTemplate { get }
}

/// What the layout and every page have, around the page's own values, as one Mustache context: `t`
/// (the catalogue in the reader's language), `lang`, `site`, `formToken` and `user` (the signed-in
/// person, absent when nobody is); any other name is the page's.
struct PortalFrame: MustacheParent {
    struct User {
        var name: String
        var roleName: String
        var isPatient: Bool
        var isDoctor: Bool
        var isAdmin: Bool
        var idleSeconds: Int64
        var formToken: String
    }

    var t: [String: String]
    var lang: String
    var site: String
    var formToken: String
    var user: User?
    /// The page's properties by name, reflected once per page rather than once per tag.
    private let values: [String: Any]

    init(page: any PortalPage, t: [String: String], lang: String, site: String, formToken: String, user: User?) {
        self.t = t
        self.lang = lang
        self.site = site
        self.formToken = formToken
        self.user = user
        values = Dictionary(
            Mirror(reflecting: page).children.compactMap { child in child.label.map { ($0, child.value) } },
            uniquingKeysWith: { first, _ in first })
    }

    /// The names the frame itself answers.
    static let names: Set<String> = ["t", "lang", "site", "formToken", "user"]

    func child(named name: String) -> Any? {
        switch name {
        case "t": t
        case "lang": lang
        case "site": site
        case "formToken": formToken
        case "user": user
        default: values[name].flatMap(Self.unwrapped)
        }
    }

    /// `value` without its optional: nil for none, so that a section of an absent value is not shown.
    static func unwrapped(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first.flatMap { unwrapped($0.value) }
    }
}

/// Every template of the portal, once: the library registers them all, and each page names its own.
enum PortalTemplate: String, CaseIterable, Sendable {
    case layout, home, login, register, activate
    case dashboardPatient = "dashboard_patient"
    case dashboardDoctor = "dashboard_doctor"
    case dashboardAdmin = "dashboard_admin"
    case doctors, doctor, error, book, appointments, calendar, upload, reports, access, code, consent, history
    case registerDoctor = "register_doctor"
    case adminAccounts = "admin_accounts"
    case adminAudit = "admin_audit"
    case profile, forgot, reset
    case loginCode = "login_code"
    case twoStep = "two_step"
    case twoStepCodes = "two_step_codes"
    case emergency
    case adminEmergency = "admin_emergency"

    /// The template's text, inside the binary.
    var text: [UInt8] {
        switch self {
        case .layout: PackageResources.layout_mustache
        case .home: PackageResources.home_mustache
        case .login: PackageResources.login_mustache
        case .register: PackageResources.register_mustache
        case .activate: PackageResources.activate_mustache
        case .dashboardPatient: PackageResources.dashboard_patient_mustache
        case .dashboardDoctor: PackageResources.dashboard_doctor_mustache
        case .dashboardAdmin: PackageResources.dashboard_admin_mustache
        case .doctors: PackageResources.doctors_mustache
        case .doctor: PackageResources.doctor_mustache
        case .error: PackageResources.error_mustache
        case .book: PackageResources.book_mustache
        case .appointments: PackageResources.appointments_mustache
        case .calendar: PackageResources.calendar_mustache
        case .upload: PackageResources.upload_mustache
        case .reports: PackageResources.reports_mustache
        case .access: PackageResources.access_mustache
        case .code: PackageResources.code_mustache
        case .consent: PackageResources.consent_mustache
        case .history: PackageResources.history_mustache
        case .registerDoctor: PackageResources.register_doctor_mustache
        case .adminAccounts: PackageResources.admin_accounts_mustache
        case .adminAudit: PackageResources.admin_audit_mustache
        case .profile: PackageResources.profile_mustache
        case .forgot: PackageResources.forgot_mustache
        case .reset: PackageResources.reset_mustache
        case .loginCode: PackageResources.login_code_mustache
        case .twoStep: PackageResources.two_step_mustache
        case .twoStepCodes: PackageResources.two_step_codes_mustache
        case .emergency: PackageResources.emergency_mustache
        case .adminEmergency: PackageResources.admin_emergency_mustache
        }
    }
}

// MARK: Pages

/// An error page: a heading and what happened, in the reader's words.
struct ErrorPage: PortalPage {
    static let template = PortalTemplate.error
    var heading: String
    var message: String
    /// A way on: a button that posts the form to `path`.
    var action: Link?

    struct Link {
        var path: String
        var label: String
    }
}
