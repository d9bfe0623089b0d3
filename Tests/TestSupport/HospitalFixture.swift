import ChunkChain
package import ChunkChainTesting
import Crypto
import Foundation
import Hospital
package import HospitalCore
package import HospitalSQLite
package import Hummingbird
package import HummingbirdTesting
import NIOCore
import Synchronization

/// A code sender that keeps the messages and e-mails (and can be made to fail).
package final class RecordingSender: CodeSender, Sendable {
    private struct State {
        var messages: [CodeMessage] = []
        var mails: [Mail] = []
        var failing = false
    }

    private let state = Mutex(State())
    private let delivered = AsyncStream<Mail>.makeStream()

    package init() {}

    /// Each e-mail as it is delivered, for a test that waits for one (one reader).
    package var deliveries: AsyncStream<Mail> { delivered.stream }

    /// The one-time codes sent so far.
    package var messages: [CodeMessage] { state.withLock { $0.messages } }
    /// The other e-mails (password-reset links, notices) delivered so far.
    package var mails: [Mail] { state.withLock { $0.mails } }

    package func fail(_ value: Bool) { state.withLock { $0.failing = value } }

    package func deliver(_ mail: Mail) async throws {
        try state.withLock { state in
            if state.failing { throw CocoaError(.fileWriteUnknown) }
            state.mails.append(mail)
        }
        delivered.continuation.yield(mail)
    }

    package func send(_ message: CodeMessage) async throws {
        try state.withLock { state in
            if state.failing { throw CocoaError(.fileWriteUnknown) }
            state.messages.append(message)
        }
    }
}

/// The hospital's services over an in-memory database and chunk store, a clock the test moves and a
/// recording sender.
package struct HospitalFixture: Sendable {
    package let clock = TestClock()
    /// The SQLite database the services keep their state in, unless the hospital's suite runs on
    /// PostgreSQL (``TestPostgres/hospitalOnPostgres``): then a test that reads it carries `.sqliteSchema`.
    package let database: HospitalDatabase
    /// The services' storage: over ``database``, or a fresh PostgreSQL schema.
    package var storage: any HospitalStorage { services.storage }
    package let store: MemoryChunkStore
    package let sender = RecordingSender()
    package let services: HospitalServices
    package var accounts: Accounts { services.accounts }

    /// - Parameter chunkSize: Small, so that small reports make chains of several chunks.
    /// - Parameter sessions: By default a week long, so that tests can move the clock by hours.
    /// - Parameter schedulingOffset: Seconds the scheduling clock runs ahead (`serve`'s test-only offset).
    package init(
        maxReportSize: Int64 = Reports.defaultMaxSize, chunkSize: Int = 4096, grantLifetime: Duration = .seconds(3600),
        sessions: Accounts.SessionPolicy = .init(idle: .seconds(7 * 86400), absolute: .seconds(7 * 86400)), storeCapacity: Int? = nil,
        portal: PortalConfiguration = .init(), database: HospitalDatabase? = nil, notary: AuditNotary? = nil,
        schedulingOffset: Int64 = 0
    ) throws {
        self.database = try database ?? HospitalDatabase.inMemory()
        let database = self.database
        let keyring = Keyring.generate(random: systemRandom, now: 0)
        let clock = self.clock
        store = MemoryChunkStore(capacity: storeCapacity)
        let vault = ReportVault(
            store: store, keyring: { keyring }, index: nil, spoolDirectory: temporaryPath("hospital-spool"), chunkSize: chunkSize,
            clock: clock.source)
        var schedulingClock: (@Sendable () -> Int64)?
        if schedulingOffset != 0 { schedulingClock = { clock.now + schedulingOffset } }
        services = HospitalServices(
            storage: TestPostgres.hospitalOnPostgres ? TestPostgres.storage() : SQLiteHospitalStorage(database),
            hasher: PasswordHasher(parameters: .testing, random: { [UInt8](repeating: 7, count: $0) }), vault: vault,
            sender: sender, codeKey: SymmetricKey(size: .bits256), sessionPolicy: sessions,
            consentPolicy: .init(grantLifetime: grantLifetime),
            maxReportSize: maxReportSize, portal: portal, notary: notary, clock: clock.source,
            schedulingClock: schedulingClock, random: systemRandom)
    }

    /// Every ledger entry, oldest first, read through the storage (either engine).
    package func ledgerEntries() async throws -> [AuditEntry] {
        try await storage.read { try await $0.ledger.entries(after: 0, patientId: nil, limit: 100_000) }
    }

    package func app() throws -> some ApplicationProtocol {
        try buildHospitalApplication(configuration: .init(port: 0), services: services)
    }

    /// Signs in through the API and returns the session's bearer token.
    /// - Throws: ``FixtureError`` when the sign-in is refused.
    package func login(_ client: some TestClientProtocol, _ email: String, _ password: String) async throws -> String {
        let body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["email": email, "password": password]))
        let response = try await client.execute(uri: "/api/sessions", method: .post, body: body)
        let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        guard response.status == .created, let token = object?["token"] as? String else {
            throw FixtureError("signing in as \(email) answered \(response.status)")
        }
        return token
    }
}

/// A fixture step that did not go as every test using it expects.
package struct FixtureError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

extension Accounts {
    /// Signs a patient up and opens the account with the link, as its owner would.
    /// - Throws: ``HospitalError/emailTaken`` when no link came (the address has an account), or what
    ///   ``signUp(_:client:link:)-(PatientRegistration,_,_)`` and ``activate(token:password:client:)`` throw.
    package func registerPatient(_ input: PatientRegistration, client: String? = nil) async throws -> User {
        let token = try await linkToken { link in try await signUp(input, client: client, link: link) }
        return try await activate(token: token, password: input.password, client: client ?? "fixture")
    }

    /// Signs a doctor up and opens the account with the link: it waits for an admin's approval.
    package func registerDoctor(_ input: DoctorRegistration, client: String? = nil) async throws -> User {
        let token = try await linkToken { link in try await signUp(input, client: client, link: link) }
        return try await activate(token: token, password: input.password, client: client ?? "fixture")
    }

    /// The token of the link a sign-up sends, read off the link as it is made.
    private func linkToken(_ signUp: (@Sendable (String) -> String) async throws -> Void) async throws -> String {
        let made = Mutex<String?>(nil)
        try await signUp { path in
            made.withLock { $0 = path }
            return path
        }
        guard let path = made.withLock({ $0 }),
            let token = URLComponents(string: path)?.queryItems?.first(where: { $0.name == "token" })?.value
        else { throw HospitalError.emailTaken }
        return token
    }
}

extension HospitalFixture {
    /// The token of the last sign-up link e-mailed (after the mail queue's round delivered it).
    package func activationToken(to address: String) -> String? {
        let link = sender.mails.last { $0.toAddress == address && $0.id.hasPrefix("activate-") }?.body
            .split(separator: "\n").first { $0.contains("/register/activate?token=") }
        return link.flatMap { URLComponents(string: String($0))?.queryItems?.first { $0.name == "token" }?.value }
    }
}
