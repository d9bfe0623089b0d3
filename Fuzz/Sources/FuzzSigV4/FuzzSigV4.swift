import FuzzDriver
import S3Protocol

/// The input, split at NUL bytes: method, raw path, raw query, Authorization header, x-amz-date,
/// x-amz-content-sha256. Every parse error must be an `S3Error`; nothing may crash or hang.
let verifier = SigV4Verifier(region: "us-east-1")
let v2 = SigV2QueryVerifier()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let parts = fields(bytes(data, size), count: 6).map { String(decoding: $0, as: UTF8.self) }
    var headers: [(name: String, value: String)] = [("host", "127.0.0.1:9000")]
    if !parts[3].isEmpty { headers.append(("authorization", parts[3])) }
    if !parts[4].isEmpty { headers.append(("x-amz-date", parts[4])) }
    if !parts[5].isEmpty { headers.append(("x-amz-content-sha256", parts[5])) }
    let request = SigV4Request(method: parts[0], rawPath: parts[1], rawQuery: parts[2], headers: headers)
    let now: Int64 = 1_764_000_000
    _ = try? verifier.verify(request, now: now) { $0 == "AKIDEXAMPLE" ? "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" : nil }
    if let query = try? QueryParameters(raw: parts[2][...]) {
        _ = SigV4.canonicalQuery(query)
        if SigV2QueryVerifier.isPresigned(query) {
            _ = try? v2.verify(request, bucketPath: parts[1], now: now) { _ in "secret" }
        }
    }
    _ = SigV4.canonicalHeaders(signedHeaders: parts[3].split(separator: ";").map(String.init), headers: headers)
    return 0
}

@_cdecl("FuzzSigV4_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) }
