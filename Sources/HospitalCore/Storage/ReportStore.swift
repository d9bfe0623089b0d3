/// Reports (the head pointers of their chains, never their bytes), as a ``HospitalTransaction`` reads
/// and writes them.
package protocol ReportStore: Sendable {
    /// A report's title.
    func title(report id: Int64) async throws -> String?
}
