import FuzzDriver
import S3Client
import S3Protocol

/// Every XML document ChainVault parses: the bodies the gateway reads (CompleteMultipartUpload,
/// DeleteObjects, CreateBucketConfiguration) and the answers its S3 client reads (ListObjectsV2, errors).
/// A malformed, deeply nested or DTD-carrying document must be `MalformedXML`, never a crash or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    _ = try? XMLShape.check(input)
    _ = try? S3XML.decode(CompleteMultipartUpload.self, from: input)
    _ = try? S3XML.decode(DeleteRequest.self, from: input)
    _ = try? S3XML.decode(CreateBucketConfiguration.self, from: input)
    _ = try? S3XML.decode(ListBody.self, from: input)
    _ = try? S3XML.decode(ErrorBody.self, from: input)
    return 0
}

@_cdecl("FuzzXML_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) }
