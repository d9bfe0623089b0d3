import DurableFiles
import Foundation
package import Transparency

#if canImport(Glibc)
    import Glibc
#endif

/// The local append-only checkpoint file: every checkpoint the ledger's key signed, oldest first, as
/// signed notes each followed by a blank line, so that an auditor can copy one out with a text editor.
/// A checkpoint is appended and fsynced before anyone is shown it.
package struct CheckpointLog: Sendable {
    package let path: String

    package init(path: String) { self.path = path }

    /// What the file holds.
    package struct Contents: Sendable {
        /// Every whole record, oldest first.
        package var checkpoints: [SignedCheckpoint]
        /// Where the last whole record ends.
        package var validLength: Int
        /// Bytes after it that are not a whole record: a crash during an append.
        package var tornBytes: Int
    }

    /// Why the file cannot be read.
    package enum Failure: Error, CustomStringConvertible {
        case damaged(path: String, offset: Int, reason: String)
        case io(path: String, errno: Int32)

        package var description: String {
            switch self {
            case .damaged(let path, let offset, let reason): "the checkpoint file \(path) is damaged at byte \(offset): \(reason)"
            case .io(let path, let code): "cannot read or write the checkpoint file \(path): \(String(cString: strerror(code)))"
            }
        }
    }

    /// Whether the file exists (empty or not).
    package var exists: Bool { access(path, F_OK) == 0 }

    /// Reads every record. A record that does not parse is damage, except at the very end, where it is
    /// an append cut short by a crash (reported as ``Contents/tornBytes``, never shown to anyone).
    package func read() throws(Failure) -> Contents {
        guard let data = FileManager.default.contents(atPath: path) else {
            if exists { throw .io(path: path, errno: EACCES) }
            return Contents(checkpoints: [], validLength: 0, tornBytes: 0)
        }
        return try Self.parse(Array(data), path: path)
    }

    /// Reads every record and cuts a torn last record off (before the next append); what was cut is
    /// still reported in ``Contents/tornBytes``.
    package func readCuttingTornRecord() throws(Failure) -> Contents {
        let contents = try read()
        if contents.tornBytes > 0 { try truncate(to: contents.validLength) }
        return contents
    }

    /// The records of a checkpoint file's bytes (see ``read()``).
    package static func parse(_ bytes: [UInt8], path: String) throws(Failure) -> Contents {
        var checkpoints: [SignedCheckpoint] = []
        var start = 0
        while start < bytes.count {
            guard let end = Self.recordEnd(bytes, from: start) else {
                return Contents(checkpoints: checkpoints, validLength: start, tornBytes: bytes.count - start)
            }
            do {
                checkpoints.append(try SignedCheckpoint(parsing: bytes[start..<(end - 1)]))
            } catch {
                throw .damaged(path: path, offset: start, reason: "\(error)")
            }
            start = end
        }
        return Contents(checkpoints: checkpoints, validLength: start, tornBytes: 0)
    }

    /// The end of the record starting at `start` (after its separating blank line): its text runs to a
    /// blank line, its signature lines (`— …`) follow, and one more newline closes it.
    static func recordEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var position = start
        // The text: lines up to the first empty one.
        while true {
            guard let newline = bytes[position...].firstIndex(of: 0x0A) else { return nil }
            if newline == position { break }
            position = newline + 1
        }
        position += 1
        var signatures = 0
        while position < bytes.count, bytes[position...].starts(with: Array("— ".utf8)) {
            guard let newline = bytes[position...].firstIndex(of: 0x0A) else { return nil }
            position = newline + 1
            signatures += 1
        }
        guard signatures > 0, position < bytes.count, bytes[position] == 0x0A else { return nil }
        return position + 1
    }

    /// Cuts a torn last record off (start-up, before the next append).
    package func truncate(to length: Int) throws(Failure) {
        guard Glibc.truncate(path, off_t(length)) == 0 else { throw .io(path: path, errno: errno) }
    }

    /// Appends a checkpoint and fsyncs the file (and, when this made it, its folder).
    package func append(_ checkpoint: SignedCheckpoint) throws(Failure) {
        do {
            try DurableFile.append(path, bytes: Array((checkpoint.note.serialized + "\n").utf8), mode: 0o600)
        } catch {
            throw .io(path: error.path, errno: error.errno)
        }
    }
}
