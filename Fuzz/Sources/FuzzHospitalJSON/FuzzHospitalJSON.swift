import Foundation
import FuzzDriver
import FuzzRouter
import HospitalTesting
import Hummingbird
import Logging
import NIOCore

/// The hospital's JSON bodies through its real router, over an in-memory database: the first byte of
/// the input picks a route (registration, login, staff creation, slots, bookings, code redemption …),
/// the rest is the body. Client input must never crash the server nor be answered with a 5xx.
enum Caller: Sendable { case nobody, admin, doctor, patient }

struct Route: Sendable {
    var method: HTTPRequest.Method
    var path: String
    var caller: Caller
}

let routes: [Route] = [
    Route(method: .post, path: "/api/patients", caller: .nobody),
    Route(method: .post, path: "/api/registrations/activation", caller: .nobody),
    Route(method: .post, path: "/api/sessions", caller: .nobody),
    Route(method: .post, path: "/api/staff", caller: .admin),
    Route(method: .post, path: "/api/slots", caller: .doctor),
    Route(method: .post, path: "/api/slots/1/booking", caller: .patient),
    Route(method: .post, path: "/api/slots/1/completion", caller: .doctor),
    Route(method: .post, path: "/api/access-requests/1/redemption", caller: .doctor),
    Route(method: .post, path: "/api/access-requests/1/denial", caller: .patient),
    Route(method: .post, path: "/api/patients/2/reports?title=x", caller: .doctor),
]

/// One request for the server task, and the semaphore the fuzzer thread waits on.
struct Job: Sendable {
    var route: Int
    var body: [UInt8]
    var done: @Sendable () -> Void
}

let jobs = AsyncStream<Job>.makeStream()

let queue = JobQueue(jobs.stream)

/// Serves the jobs on a router client, a fresh server (database, sessions, ledger) every
/// ``inputsPerServer`` jobs.
let server = Task {
    while true { try await serve() }
}

func serve() async throws {
    let hospital = try HospitalSandbox(now: 1_800_000_000, spool: "fuzz-spool")
    try await hospital.staff(.admin, email: "admin@example.org")
    try await hospital.staff(.doctor, email: "doctor@example.org")
    try await hospital.patient(email: "patient@example.org")
    var tokens: [Caller: String] = [:]
    for (caller, email) in [(Caller.admin, "admin@example.org"), (.doctor, "doctor@example.org"), (.patient, "patient@example.org")] {
        tokens[caller] = try await hospital.signIn(email: email)
    }
    let bearer = tokens
    // Errors only: an access-log line per input would cost more than the request.
    var quiet = Logger(label: "fuzz")
    quiet.logLevel = .error
    let app = try! hospital.application(logger: quiet)
    try await withRouterClient(app) { client in
        for _ in 0..<inputsPerServer {
            guard let job = await queue.next() else { return }
            let route = routes[job.route % routes.count]
            var headers: HTTPFields = [.contentType: "application/json"]
            if let token = bearer[route.caller] { headers[.authorization] = "Bearer \(token)" }
            let response = try await client.execute(
                uri: route.path, method: route.method, headers: headers, body: ByteBuffer(bytes: job.body))
            if response.status.code >= 500 {
                fatalError(
                    "\(route.method) \(route.path) answered \(response.status.code) to client input: \(String(buffer: response.body))")
            }
            job.done()
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let first = input.first else { return 0 }
    _ = server
    blocking {
        await withCheckedContinuation { continuation in
            jobs.continuation.yield(Job(route: Int(first), body: Array(input.dropFirst()), done: { continuation.resume() }))
        }
    }
    return 0
}

@_cdecl("FuzzHospitalJSON_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) }
