import NIOCore
import _NIOFileSystem

/// The plaintext of a report, read by offset so a chain can be written from the tail with bounded memory.
public protocol ReportSource: Sendable {
    /// The report's length in bytes.
    var length: Int64 { get }
    /// Exactly `count` bytes from `offset`.
    func read(offset: Int64, count: Int) async throws -> [UInt8]
    /// Releases the file behind it, if any.
    func close() async
}

extension ReportSource {
    public func close() async {}
}

/// A report held in memory (small reports, tests).
public struct BytesSource: ReportSource {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var length: Int64 { Int64(bytes.count) }
    public func read(offset: Int64, count: Int) async throws -> [UInt8] { Array(bytes[Int(offset)..<Int(offset) + count]) }
}

/// A report in a file, read with positioned reads on NIO's file system (never on an event loop).
public struct FileSource: ReportSource {
    let handle: ReadFileHandle
    public let length: Int64

    /// Opens `path`; call ``close()`` when done.
    public static func open(path: String) async throws -> FileSource {
        let handle = try await FileSystem.shared.openFile(forReadingAt: FilePath(path), options: .init())
        do {
            return FileSource(handle: handle, length: try await handle.info().size)
        } catch {
            try? await handle.close()
            throw error
        }
    }

    public func read(offset: Int64, count: Int) async throws -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            let buffer = try await handle.readChunk(
                fromAbsoluteOffset: offset + Int64(result.count), length: .bytes(Int64(count - result.count)))
            guard buffer.readableBytes > 0 else { throw ChainError.store("the report file ended early") }
            result += Array(buffer: buffer)
        }
        return result
    }

    public func close() async { try? await handle.close() }
}
