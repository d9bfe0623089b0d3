#if canImport(Glibc)
    import Glibc
#endif

/// libFuzzer's entry for a SwiftPM executable: SwiftPM links an executable's entry as `<Target>_main`,
/// and libFuzzer's own `main` would never see the target's `LLVMFuzzerTestOneInput` through it. Each
/// target defines `@_cdecl("<Target>_main")` calling ``runFuzzer(_:_:)`` and its own
/// `@_cdecl("LLVMFuzzerTestOneInput")`.
@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_silgen_name("LLVMFuzzerTestOneInput")
func llvmFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt

/// Runs libFuzzer with the process's arguments (`-runs=N CORPUS_DIR` …).
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return llvmFuzzerRunDriver(&argc, &argv) { data, size in llvmFuzzerTestOneInput(data, size) }
}

/// The input as bytes (libFuzzer may pass a null pointer for an empty input).
public func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Splits an input at its first `0x00` bytes into up to `count` fields (the last takes the rest).
public func fields(_ input: [UInt8], count: Int) -> [[UInt8]] {
    var result: [[UInt8]] = []
    var rest = input[...]
    while result.count < count - 1, let zero = rest.firstIndex(of: 0) {
        result.append(Array(rest[..<zero]))
        rest = rest[(zero + 1)...]
    }
    result.append(Array(rest))
    while result.count < count { result.append([]) }
    return result
}

/// Runs an async body to its end from libFuzzer's synchronous callback.
public func blocking(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphoreLike()
    Task {
        await body()
        done.signal()
    }
    done.wait()
}

/// A semaphore without Foundation (the fuzz targets link as little as they can).
final class DispatchSemaphoreLike: @unchecked Sendable {
    // Guarded by the pthread mutex and condition: signalled from a task, waited on by the fuzzer thread.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var signalled = false

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func signal() {
        pthread_mutex_lock(&mutex)
        signalled = true
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    func wait() {
        pthread_mutex_lock(&mutex)
        while !signalled { pthread_cond_wait(&condition, &mutex) }
        pthread_mutex_unlock(&mutex)
    }
}

/// The jobs of a stateful target (a whole server behind a router) in the order they come, shared by
/// the servers a long run goes through: each serves a batch, then a fresh one takes over, so that what
/// a server accumulates (database rows, sessions, ledger entries) stays bounded over 10^6 inputs.
public final class JobQueue<Element: Sendable>: @unchecked Sendable {
    // Only the one server task at a time calls next().
    private var iterator: AsyncStream<Element>.Iterator

    public init(_ stream: AsyncStream<Element>) { iterator = stream.makeAsyncIterator() }

    public func next() async -> Element? { await iterator.next() }
}

/// Inputs one server of a stateful target serves before a fresh one takes over.
public let inputsPerServer = 5000
