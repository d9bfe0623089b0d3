/// The pages of reports: the list a person may read, and a doctor's upload form (``PortalReportController``).

struct ReportsPage: PortalPage {
    static let template = PortalTemplate.reports

    struct Report {
        var id: String
        var title: String
        var doctor: String
        var patient: String
        var date: String
        var size: String
        var sha256: String
        /// The first 64 bits of the SHA-256, to compare a copy by eye.
        var fingerprint: String
        /// When a verification found the chain damaged, in words; nil while it verifies.
        var damaged: String?
        /// When the chain last verified intact, in words.
        var verified: String?
    }

    var reports: [Report]
    var hasReports: Bool

    init(reports: [Report]) {
        self.reports = reports
        hasReports = !reports.isEmpty
    }
}

struct UploadPage: PortalPage {
    static let template = PortalTemplate.upload
    /// The completed slot the report is of.
    var id: String
    var patient: String
    var when: String
    /// The largest report, in words.
    var limit: String
    /// The title typed, shown again after a refusal.
    var reportTitle: String
    var error: String?
}
