import Crypto
import Hex
public import NIOCore
import _NIOFileSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A report of unknown length (a pipe, an HTTP request body) written to a temporary file first, so that
/// its chain can be written from the tail with bounded memory.
///
/// The temporary file never holds plaintext: the report is sealed block by block with AES-256-GCM under
/// a key that exists only in this process's memory (block i under nonce i), and the file's name is
/// removed as soon as it is opened, so nothing is left behind however the process ends.
public struct SpooledReport: ReportSource {
    public let length: Int64
    let handle: ReadWriteFileHandle
    let key: SymmetricKey
    /// Plaintext bytes per sealed block.
    let blockSize: Int

    /// Reads `body` to its end into an unnamed temporary file in `directory`.
    /// - Parameters:
    ///   - blockSize: Plaintext bytes per sealed block; the chain's chunk size reads one block per chunk.
    ///   - limit: The most bytes accepted.
    /// - Throws: ``SpoolError/tooLarge(limit:)`` beyond `limit` (the file is gone then), the body's and
    ///   the file system's errors.
    public static func spool<Body: AsyncSequence>(
        _ body: Body, in directory: String, blockSize: Int = ChainWriter.defaultChunkSize, limit: Int64 = .max
    ) async throws -> SpooledReport where Body.Element == ByteBuffer {
        precondition(blockSize > 0, "block size")
        let path = FilePath(directory).appending("spool-" + Hex.encode(systemRandom(16)))
        // Created in place (not materialized on close), so that its name can go at once.
        let handle = try await FileSystem.shared.openFile(
            forReadingAndWritingAt: path,
            options: .init(
                existingFile: .none, newFile: .init(permissions: [.ownerReadWrite], transactionalCreation: false), closeOnExec: true))
        unlink(path.string)
        let key = SymmetricKey(size: .bits256)
        do {
            var block: [UInt8] = []
            block.reserveCapacity(blockSize)
            var blocks: Int64 = 0
            var length: Int64 = 0
            func seal() async throws {
                let sealed = try AES.GCM.seal(block, using: key, nonce: try AES.GCM.Nonce(data: ChunkHeader.nonce(index: UInt64(blocks))))
                try await handle.write(
                    contentsOf: sealed.ciphertext + sealed.tag, toAbsoluteOffset: blocks * Int64(blockSize + ChunkHeader.tagSize))
                blocks += 1
                block.removeAll(keepingCapacity: true)
            }
            for try await var buffer in body {
                length += Int64(buffer.readableBytes)
                guard length <= limit else { throw SpoolError.tooLarge(limit: limit) }
                while let bytes = buffer.readBytes(length: min(buffer.readableBytes, blockSize - block.count)), !bytes.isEmpty {
                    block += bytes
                    if block.count == blockSize { try await seal() }
                }
            }
            if !block.isEmpty { try await seal() }
            return SpooledReport(length: length, handle: handle, key: key, blockSize: blockSize)
        } catch {
            try? await handle.close()
            if Self.isOutOfSpace(error) { throw ChainError.storeFull("the spool folder \(directory) has no room") }
            throw error
        }
    }

    /// Whether a NIO file-system call failed for want of space (or quota).
    static func isOutOfSpace(_ error: any Error) -> Bool {
        guard let error = error as? FileSystemError, let call = error.cause as? FileSystemError.SystemCallError else { return false }
        return call.errno.rawValue == ENOSPC || call.errno.rawValue == EDQUOT
    }

    public func read(offset: Int64, count: Int) async throws -> [UInt8] {
        precondition(offset >= 0 && count >= 0 && offset + Int64(count) <= length, "a read within the report")
        var result: [UInt8] = []
        result.reserveCapacity(count)
        var position = offset
        let end = offset + Int64(count)
        while position < end {
            let block = position / Int64(blockSize)
            let start = block * Int64(blockSize)
            let plaintextCount = Int(min(Int64(blockSize), length - start))
            let sealed = try await handle.readChunk(
                fromAbsoluteOffset: block * Int64(blockSize + ChunkHeader.tagSize),
                length: .bytes(Int64(plaintextCount + ChunkHeader.tagSize)))
            guard
                sealed.readableBytes == plaintextCount + ChunkHeader.tagSize,
                let plaintext = ChainReader.open(
                    sealed: Array(buffer: sealed)[...], using: key, nonce: ChunkHeader.nonce(index: UInt64(block)), authenticating: []
                ).map(Array.init)
            else { throw SpoolError.damaged }
            let from = Int(position - start)
            let to = Int(min(end - start, Int64(plaintextCount)))
            result += plaintext[from..<to]
            position = start + Int64(to)
        }
        return result
    }

    /// Closes the file, which frees its space.
    public func close() async { try? await handle.close() }
}

/// Why a report could not be spooled or read back.
public enum SpoolError: Error, Equatable, CustomStringConvertible {
    /// The report is longer than the limit.
    case tooLarge(limit: Int64)
    /// The temporary file was changed under us.
    case damaged

    public var description: String {
        switch self {
        case .tooLarge(let limit): "the report is larger than \(limit) bytes"
        case .damaged: "the spooled report does not authenticate"
        }
    }
}
