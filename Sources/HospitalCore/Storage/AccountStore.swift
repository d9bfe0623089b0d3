/// Accounts, as a ``HospitalTransaction`` reads and writes them.
package protocol AccountStore: Sendable {
    /// The account with this id, whatever its role and status.
    func user(id: Int64) async throws -> User?
    /// Patients born on `dateOfBirth` (`YYYY-MM-DD`), whatever their status.
    func patients(bornOn dateOfBirth: String) async throws -> [User]
}
