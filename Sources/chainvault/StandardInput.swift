import DurableFiles
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Standard input (a pipe, a terminal or a file) as buffers of up to `chunkSize` bytes, each read on NIO's
/// blocking thread pool; ends at end of file.
struct StandardInputChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let chunkSize: Int

    func makeAsyncIterator() -> Iterator { Iterator(chunkSize: chunkSize) }

    struct Iterator: AsyncIteratorProtocol {
        let chunkSize: Int
        var ended = false

        mutating func next() async throws -> ByteBuffer? {
            if ended { return nil }
            let size = chunkSize
            let buffer = try await NIOThreadPool.singleton.runIfActive { () throws -> ByteBuffer in
                var buffer = ByteBufferAllocator().buffer(capacity: size)
                // A pipe hands out at most 64 KiB a read: fill the buffer unless the input ends.
                var result: Result<Int, FileError> = .success(0)
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { bytes in
                    result = Result { () throws(FileError) in
                        try FileDescriptorIO.readFully(
                            STDIN_FILENO, into: UnsafeMutableRawBufferPointer(rebasing: bytes[..<size]), path: "standard input")
                    }
                    return (try? result.get()) ?? 0
                }
                if case .failure(let error) = result { throw error }
                return buffer
            }
            if buffer.readableBytes < size { ended = true }
            return buffer.readableBytes == 0 ? nil : buffer
        }
    }
}
