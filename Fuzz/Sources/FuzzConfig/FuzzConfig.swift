import FuzzDriver
import Settings

/// The configuration file parser: any bytes must give settings or a `ConfigurationError`, never a
/// crash (deep nesting, aliases, invalid UTF-8, huge scalars).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? ConfigurationFile.parse(bytes(data, size), path: "fuzz.yaml")
    return 0
}

@_cdecl("FuzzConfig_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) }
