import ChunkChain
import ChunkChainTesting
import Crypto
import Foundation
import HospitalCore
import HospitalSQLite
import Synchronization

/// What the hospital's fuzz targets share: services over an in-memory database and chunk store, and the
/// accounts people open.
public enum FuzzHospital {
    /// The password of every account the targets open.
    public static let password = "correct horse battery"

    /// Sends nothing: the targets fuzz parsers, not mail.
    struct NoSender: CodeSender {
        func send(_ message: CodeMessage) async throws {}
        func deliver(_ mail: Mail) async throws {}
    }

    /// The hospital over a fresh in-memory database and chunk store, at the fixed time `now`.
    public static func services(now: Int64, maxReportSize: Int64 = Reports.defaultMaxSize, spool: String) throws -> HospitalServices {
        let keyring = Keyring.generate(random: systemRandom, now: 0)
        let vault = ReportVault(
            store: MemoryChunkStore(), keyring: { keyring }, index: nil, spoolDirectory: NSTemporaryDirectory() + spool, clock: { now })
        return HospitalServices(
            storage: SQLiteHospitalStorage(try HospitalDatabase.inMemory()),
            hasher: PasswordHasher(parameters: .testing, random: systemRandom), vault: vault, sender: NoSender(),
            codeKey: SymmetricKey(size: .bits256), maxReportSize: maxReportSize, clock: { now }, random: systemRandom)
    }

    /// A patient who signs up and opens the account with the e-mailed link, as a person would.
    public static func patient(_ services: HospitalServices) async throws -> User {
        let registration = Accounts.PatientRegistration(
            name: "Patient", email: "patient@example.org", password: password, dateOfBirth: "1985-04-12", phone: "0123456")
        let link = Mutex("")
        try await services.accounts.signUp(registration, client: nil) { path in
            link.withLock { $0 = path }
            return path
        }
        return try await services.accounts.activate(
            token: String(link.withLock { $0 }.split(separator: "=").last ?? ""), password: password, client: "fuzz")
    }
}
