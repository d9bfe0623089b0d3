/// The pages of consent: a doctor's access page, code page and emergency form; a patient's consent page
/// and history (``PortalConsentController``).

/// One option of a list to choose from.
struct Choice {
    var value: String
    var label: String
    var selected: Bool
}

struct AccessPage: PortalPage {
    static let template = PortalTemplate.access

    /// A report the doctor may read now, under a grant or an emergency access.
    struct Grant {
        var reportId: String
        var title: String
        var patient: String
        var left: String
        var emergency = false
    }

    struct Request {
        var id: String
        var title: String
        var patient: String
        var pending: Bool
        var status: String
    }

    /// A report the doctor may ask for.
    struct Requestable {
        var id: String
        var title: String
        var patient: String
        var author: String
        var date: String
    }

    var grants: [Grant]
    var hasGrants: Bool
    var requests: [Request]
    var hasRequests: Bool
    var requestable: [Requestable]
    var hasRequestable: Bool
    var notice: String?

    init(grants: [Grant], requests: [Request], requestable: [Requestable], notice: String?) {
        self.grants = grants
        hasGrants = !grants.isEmpty
        self.requests = requests
        hasRequests = !requests.isEmpty
        self.requestable = requestable
        hasRequestable = !requestable.isEmpty
        self.notice = notice
    }
}

/// Where the doctor types the code the patient received.
struct CodePage: PortalPage {
    static let template = PortalTemplate.code
    var id: String
    var title: String
    var patient: String
    var expires: String
    var attemptsLeft: String
    /// Why no code can be typed any more, when the request closed.
    var closed: String?
    var problem: String?
    var notice: String?
}

struct EmergencyPage: PortalPage {
    static let template = PortalTemplate.emergency
    var lead: String
    var name = ""
    var dateOfBirth = ""
    var reason = ""
    /// The reason's rule, beside its field.
    var problem: String?
    var error: String?
}

struct ConsentPage: PortalPage {
    static let template = PortalTemplate.consent

    struct Request {
        var id: String
        var doctor: String
        var specialization: String
        var title: String
        var expires: String
    }

    struct Grant {
        var id: String
        var doctor: String
        var title: String
        var left: String
    }

    var requests: [Request]
    var hasRequests: Bool
    var grants: [Grant]
    var hasGrants: Bool
    var notice: String?

    init(requests: [Request], grants: [Grant], notice: String?) {
        self.requests = requests
        hasRequests = !requests.isEmpty
        self.grants = grants
        hasGrants = !grants.isEmpty
        self.notice = notice
    }
}

/// "Who looked at my data".
struct HistoryPage: PortalPage {
    static let template = PortalTemplate.history

    struct Entry {
        var when: String
        var who: String
        var what: String
        var title: String
        var outcome: String
        var id: String
        /// The signed tree includes the entry as it reads now.
        var verified: Bool
        /// The doctor's reason for opening a report without consent.
        var reason: String?
    }

    var entries: [Entry]
    var hasEntries: Bool
    var actions: [Choice]
    /// How to check a proof, with the ledger's public key; empty when the ledger is not signed.
    var proofLead: String

    init(entries: [Entry], actions: [Choice], proofLead: String) {
        self.entries = entries
        hasEntries = !entries.isEmpty
        self.actions = actions
        self.proofLead = proofLead
    }
}
