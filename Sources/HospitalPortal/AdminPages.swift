/// The admins' pages: accounts, the ledger, and emergency accesses to review (``PortalAdminController``).

struct AdminAccountsPage: PortalPage {
    static let template = PortalTemplate.adminAccounts

    /// A doctor who registered and waits for approval.
    struct Pending {
        var id: String
        var name: String
        var email: String
        var specialization: String
    }

    struct Account {
        var id: String
        var name: String
        var email: String
        var role: String
        var status: String
        var canDisable: Bool
        var canEnable: Bool
        var throttled: Bool
        var canResetTwoStep: Bool
    }

    var pending: [Pending]
    var hasPending: Bool
    var pendingCount: String
    var accounts: [Account]
    var search: String
    var roles: [Choice]
    var statuses: [Choice]
    /// The staff form as typed.
    var newName: String
    var newEmail: String
    var newSpecialization: String
    var error: String?
    var notice: String?
}

struct AdminAuditPage: PortalPage {
    static let template = PortalTemplate.adminAudit

    struct Entry {
        var id: String
        var when: String
        var who: String
        var what: String
        var subject: String
        var patient: String
        var outcome: String
        var detail: String
    }

    var entries: [Entry]
    var hasEntries: Bool
    /// What checking the ledger found, and its style (`notice` or `error`).
    var verification: String
    var verificationClass: String
    /// The filter as typed.
    var patient: String
    var actor: String
    var from: String
    var to: String
    /// The filter's query, for the export form.
    var query: String
    var actions: [Choice]
    var outcomes: [Choice]
}

struct AdminEmergencyPage: PortalPage {
    static let template = PortalTemplate.adminEmergency

    struct Entry {
        var id: String
        var when: String
        var doctor: String
        var patient: String
        var title: String
        var reason: String
        /// When and by whom, once reviewed.
        var reviewed: String
        var isReviewed: Bool
    }

    var entries: [Entry]
    var hasEntries: Bool
    /// Reviewed ones are listed too.
    var all: Bool
    var notice: String?

    init(entries: [Entry], all: Bool, notice: String?) {
        self.entries = entries
        hasEntries = !entries.isEmpty
        self.all = all
        self.notice = notice
    }
}
