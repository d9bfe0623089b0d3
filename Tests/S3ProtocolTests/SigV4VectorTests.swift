import Foundation
import Testing

@testable import S3Protocol

/// The AWS SigV4 test suite (aws-c-auth, Apache-2.0; see Vectors/aws-sig-v4/NOTICE):
/// every vector verifies, and a one-byte mutation of each is rejected.
@Suite struct SigV4VectorTests {
    static let vectorsURL = Bundle.module.resourceURL!.appendingPathComponent("Vectors/aws-sig-v4")
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let now = S3Time.parseAmzDate("20150830T123600Z")!

    struct Vector: CustomTestStringConvertible, Sendable {
        var name: String
        var file: String
        var testDescription: String { "\(name)/\(file)" }
    }

    static var vectors: [Vector] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: vectorsURL.path)) ?? []
        return names.sorted().flatMap { name in
            ["header-signed-request.txt", "query-signed-request.txt"].compactMap { file in
                FileManager.default.fileExists(atPath: vectorsURL.appendingPathComponent("\(name)/\(file)").path)
                    ? Vector(name: name, file: file) : nil
            }
        }
    }

    /// Parses the suite's request files: request line, `Name:value` headers, blank line, body.
    static func load(_ vector: Vector) throws -> (SigV4Request, body: String) {
        let text = try String(contentsOf: vectorsURL.appendingPathComponent("\(vector.name)/\(vector.file)"), encoding: .utf8)
        let parts = text.components(separatedBy: "\n\n")
        let lines = parts[0].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines[0]
        let method = String(requestLine.prefix { $0 != " " })
        let target = String(requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count))
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() where !line.isEmpty {
            let colon = line.firstIndex(of: ":")!
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let request = SigV4Request(
            method: method,
            rawPath: String(path[0]),
            rawQuery: path.count > 1 ? String(path[1]) : "",
            headers: headers
        )
        return (request, parts.dropFirst().joined(separator: "\n\n"))
    }

    static let verifier = SigV4Verifier(region: "us-east-1", service: "service")

    static func verify(_ request: SigV4Request) throws(S3Error) -> SigV4Authorization {
        try verifier.verify(request, now: now) { $0 == "AKIDEXAMPLE" ? secret : nil }
    }

    @Test(arguments: vectors)
    func vectorVerifies(_ vector: Vector) throws {
        let (request, body) = try Self.load(vector)
        let authorization = try Self.verify(request)
        #expect(authorization.accessKeyId == "AKIDEXAMPLE")
        if case .signedBodyHash(let pending) = authorization.payload {
            // No x-amz-content-sha256 and a body: the signature covers the body's hash.
            #expect(pending.matches(payloadHash: SigV4.sha256Hex(body)))
        }
    }

    @Test(arguments: vectors)
    func mutatedSignatureIsRejected(_ vector: Vector) throws {
        var (request, _) = try Self.load(vector)
        func flip(_ text: String) -> String {
            // Change the last hex digit of the signature.
            var characters = Array(text)
            let index = characters.count - 1
            characters[index] = characters[index] == "0" ? "1" : "0"
            return String(characters)
        }
        if let index = request.headers.firstIndex(where: { $0.name.lowercased() == "authorization" }) {
            request.headers[index].value = flip(request.headers[index].value)
        } else {
            let parts = request.rawQuery.components(separatedBy: "&").map { part in
                part.hasPrefix("X-Amz-Signature=") ? flip(part) : part
            }
            request.rawQuery = parts.joined(separator: "&")
        }
        #expect(throws: S3Error(.signatureDoesNotMatch)) { try Self.verify(request) }
    }

    @Test(arguments: vectors)
    func mutatedSignedHeaderIsRejected(_ vector: Vector) throws {
        var (request, _) = try Self.load(vector)
        let index = request.headers.firstIndex { $0.name.lowercased() == "host" }!
        request.headers[index].value = "example.amazonaws.con"
        #expect(throws: S3Error(.signatureDoesNotMatch)) { try Self.verify(request) }
    }

    @Test(arguments: vectors)
    func mutatedPathIsRejected(_ vector: Vector) throws {
        var (request, _) = try Self.load(vector)
        request.rawPath += "x"
        #expect(throws: S3Error(.signatureDoesNotMatch)) { try Self.verify(request) }
    }

    @Test func vectorsArePresent() {
        #expect(Self.vectors.count >= 30)
    }
}
