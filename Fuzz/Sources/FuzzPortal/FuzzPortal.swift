import Foundation
import FuzzDriver
import FuzzRouter
import HospitalTesting
import Hummingbird
import Logging
import NIOCore

/// The portal's parsers of outside bytes through its real router, over an in-memory database, with a
/// signed-in doctor and patient: the first byte of the input picks what the rest is —
/// an urlencoded form (with and without the page's form token) for each form, a multipart upload after
/// a valid token, a `Cookie` header, an `Accept-Language` header. No input may crash the server or be
/// answered with a 5xx.
enum Caller: Sendable { case nobody, doctor, patient }

let forms: [(path: String, caller: Caller)] = [
    ("/login", .nobody), ("/register", .nobody), ("/register/doctor", .nobody), ("/register/activate", .nobody),
    ("/slots/2/book", .patient),
    ("/calendar/slots", .doctor), ("/access/requests/1", .doctor), ("/appointments/1/cancel", .patient), ("/logout", .patient),
    ("/login/code", .nobody), ("/profile/two-step/confirm", .patient), ("/profile/two-step/disable", .patient),
    ("/calendar/slots/1/cancel", .doctor), ("/password/forgot", .nobody),
]

struct Job: Sendable {
    var input: [UInt8]
    var done: @Sendable () -> Void
}

let jobs = AsyncStream<Job>.makeStream()
let now: Int64 = 1_800_000_000

/// The value of `name="form_token" value="…"` in a page.
func formToken(in page: String) -> String {
    guard let range = page.range(of: "name=\"form_token\" value=\"") else { return "" }
    return String(page[range.upperBound...].prefix { $0 != "\"" })
}

/// Bytes as a header value: visible ASCII, space and tab only (what HTTP allows a client to send).
func headerValue(_ bytes: ArraySlice<UInt8>) -> String {
    String(decoding: bytes.prefix(4096).map { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
}

let queue = JobQueue(jobs.stream)

/// Serves the jobs on a router client, a fresh server (database, sessions, ledger) every
/// ``inputsPerServer`` jobs.
let server = Task {
    while true { try await serve() }
}

func serve() async throws {
    let hospital = try HospitalSandbox(now: now, maxReportSize: 4096, spool: "fuzz-portal-spool")
    let doctor = try await hospital.staff(.doctor, email: "doctor@example.org")
    let patient = try await hospital.patient(email: "patient@example.org")
    let slot = try await hospital.publishSlot(doctor: doctor, startsAt: now - now % 60)
    try await hospital.book(slot: slot, patient: patient)
    try await hospital.complete(slot: slot, doctor: doctor)
    try await hospital.publishSlot(doctor: doctor, startsAt: now + 3600)
    var sessions: [Caller: String] = [:]
    for (caller, email) in [(Caller.doctor, "doctor@example.org"), (.patient, "patient@example.org")] {
        sessions[caller] = try await hospital.signIn(email: email, portal: true)
    }
    let cookies = sessions
    // Errors only: an access-log line per input would cost more than the request.
    var quiet = Logger(label: "fuzz")
    quiet.logLevel = .error
    let app = try hospital.application(logger: quiet)
    try await withRouterClient(app) { client in
        var tokens: [Caller: String] = [:]
        for caller in [Caller.doctor, .patient] {
            let page = try await client.execute(
                uri: "/dashboard", method: .get, headers: [.cookie: "chainvault-session=\(cookies[caller]!)"])
            tokens[caller] = formToken(in: String(buffer: page.body))
        }
        let anonymous = try await client.execute(uri: "/login", method: .get)
        let anonymousCookie = anonymous.headers[.setCookie]?.split(separator: ";").first.map(String.init) ?? ""
        tokens[.nobody] = formToken(in: String(buffer: anonymous.body))
        for _ in 0..<inputsPerServer {
            guard let job = await queue.next() else { return }
            let mode = Int(job.input[0])
            let rest = job.input.dropFirst()
            var uri = "/"
            var method = HTTPRequest.Method.get
            var headers: HTTPFields = [.origin: "http://localhost"]
            var body = ByteBuffer()
            switch mode % 4 {
            case 0:
                // A form: the route from the next byte; with the page's token first, or the bytes alone.
                let form = forms[Int(rest.first ?? 0) % forms.count]
                uri = form.path
                method = .post
                headers[.contentType] = "application/x-www-form-urlencoded"
                headers[.cookie] = form.caller == .nobody ? anonymousCookie : "chainvault-session=\(cookies[form.caller]!)"
                if (mode / 4) % 2 == 0 { body.writeString("form_token=\(tokens[form.caller]!)&") }
                body.writeBytes(rest.dropFirst())
            case 1:
                // A report upload: a valid token part, then the bytes.
                uri = "/calendar/slots/1/report"
                method = .post
                headers[.contentType] = "multipart/form-data; boundary=b"
                headers[.cookie] = "chainvault-session=\(cookies[.doctor]!)"
                body.writeString("--b\r\nContent-Disposition: form-data; name=\"form_token\"\r\n\r\n\(tokens[.doctor]!)\r\n")
                body.writeBytes(rest)
            case 2:
                headers[.cookie] = headerValue(rest)
                uri = "/dashboard"
            default:
                headers[.acceptLanguage] = headerValue(rest)
            }
            let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
            if response.status.code >= 500 {
                fatalError(
                    "\(method) \(uri) answered \(response.status.code) to client input: \(String(buffer: response.body).prefix(500))")
            }
            job.done()
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard !input.isEmpty else { return 0 }
    _ = server
    blocking {
        await withCheckedContinuation { continuation in
            jobs.continuation.yield(Job(input: input, done: { continuation.resume() }))
        }
    }
    return 0
}

@_cdecl("FuzzPortal_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) }
