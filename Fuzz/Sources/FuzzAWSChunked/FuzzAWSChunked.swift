import FuzzDriver
import NIOCore
import S3Protocol

/// An aws-chunked body fed in pieces (the first byte picks the piece size), decoded without signatures
/// and with the chunk signatures of a request signed by a known key.
let signer = SigV4Signer(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "us-east-1")
let now: Int64 = 1_764_000_000
let streaming: StreamingSignatureContext? = {
    let headers: [(name: String, value: String)] = [("host", "127.0.0.1:9000"), ("content-encoding", "aws-chunked")]
    guard
        let signed = try? signer.sign(
            method: "PUT", path: "/bucket/key", query: "", headers: headers, payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", date: now),
        let authorization = try? SigV4Verifier(region: "us-east-1").verify(
            SigV4Request(method: "PUT", rawPath: "/bucket/key", rawQuery: "", headers: headers + signed), now: now,
            secretForAccessKey: { _ in "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" }),
        case .streamingSigned(let context, _) = authorization.payload
    else { return nil }
    return context
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let first = input.first else { return 0 }
    let piece = Int(first) + 1
    for context in [nil, streaming] {
        var decoder = AWSChunkedDecoder(signing: context)
        var offset = 1
        do {
            while offset < input.count {
                let end = min(offset + piece, input.count)
                _ = try decoder.decode(ByteBuffer(bytes: input[offset..<end]))
                offset = end
            }
            _ = try decoder.finish()
        } catch {}
    }
    return 0
}

@_cdecl("FuzzAWSChunked_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) }
