import ChunkChain
import ChunkChainTesting
import Crypto
import Foundation
import Hospital
import HospitalCore
import HospitalSQLite
public import Hummingbird
public import Logging
import Synchronization

/// A hospital in memory for the fuzz targets (the `Fuzz/` package): services over an in-memory database
/// and chunk store at a fixed time, the accounts people open, the slots doctors publish and the listener
/// with the portal and the API. The hospital's modules are `package` to everything outside this
/// repository's package; this is the one door the fuzz package goes through. Not linked into the program.
public struct HospitalSandbox: Sendable {
    /// Who a staff account is.
    public enum StaffRole: Sendable { case admin, doctor }

    /// The password of every account the sandbox opens.
    public static let password = "correct horse battery"

    let services: HospitalServices

    /// Sends nothing: the fuzz targets fuzz parsers, not mail.
    struct NoSender: CodeSender {
        func send(_ message: CodeMessage) async throws {}
        func deliver(_ mail: Mail) async throws {}
    }

    /// A fresh hospital at the fixed time `now`.
    /// - Parameters:
    ///   - maxReportSize: The largest report upload, in bytes; the service's default when nil.
    ///   - spool: A folder name under the temporary directory for report uploads in flight.
    public init(now: Int64, maxReportSize: Int64? = nil, spool: String) throws {
        let keyring = Keyring.generate(random: systemRandom, now: 0)
        let vault = ReportVault(
            store: MemoryChunkStore(), keyring: { keyring }, index: nil, spoolDirectory: NSTemporaryDirectory() + spool, clock: { now })
        services = HospitalServices(
            storage: SQLiteHospitalStorage(try HospitalDatabase.inMemory()),
            hasher: PasswordHasher(parameters: .testing, random: systemRandom), vault: vault, sender: NoSender(),
            codeKey: SymmetricKey(size: .bits256), maxReportSize: maxReportSize ?? Reports.defaultMaxSize, clock: { now },
            random: systemRandom)
    }

    /// Opens a staff account; returns its id.
    @discardableResult
    public func staff(_ role: StaffRole, email: String) async throws -> Int64 {
        let account =
            switch role {
            case .admin: Accounts.StaffRegistration(role: .admin, name: "Admin", email: email, password: Self.password)
            case .doctor:
                Accounts.StaffRegistration(
                    role: .doctor, name: "Doctor", email: email, password: Self.password, specialization: "Cardiology")
            }
        return try await services.accounts.createStaff(account).id!
    }

    /// A patient who signs up and opens the account with the e-mailed link, as a person would; returns
    /// the account's id.
    @discardableResult
    public func patient(email: String) async throws -> Int64 {
        let registration = Accounts.PatientRegistration(
            name: "Patient", email: email, password: Self.password, dateOfBirth: "1985-04-12", phone: "0123456")
        let link = Mutex("")
        try await services.accounts.signUp(registration, client: nil) { path in
            link.withLock { $0 = path }
            return path
        }
        let token = String(link.withLock { $0 }.split(separator: "=").last ?? "")
        return try await services.accounts.activate(token: token, password: Self.password, client: "fuzz").id!
    }

    /// Signs in: the session token, for a `Bearer` header (`portal` false) or the portal's cookie.
    public func signIn(email: String, portal: Bool = false) async throws -> String {
        try await services.accounts.login(
            email: email, password: Self.password, client: "fuzz", kind: portal ? .portal : .api
        ).token
    }

    /// Publishes a slot of `minutes` from `startsAt`; returns its id.
    @discardableResult
    public func publishSlot(doctor: Int64, startsAt: Int64, minutes: Int = 30) async throws -> Int64 {
        try await services.scheduling.publish(doctorId: doctor, startsAt: startsAt, durationMinutes: minutes).slot.id!
    }

    /// Books the slot for the patient.
    public func book(slot: Int64, patient: Int64) async throws {
        _ = try await services.scheduling.book(slotId: slot, patientId: patient, reason: "fuzz")
    }

    /// Marks the booked slot's visit done.
    public func complete(slot: Int64, doctor: Int64) async throws {
        _ = try await services.scheduling.complete(slotId: slot, doctorId: doctor)
    }

    /// The hospital's listener (portal and API) on a free port, for a router test client.
    public func application(logger: Logger) throws -> some ApplicationProtocol {
        try buildHospitalApplication(configuration: .init(port: 0), services: services, logger: logger)
    }
}
