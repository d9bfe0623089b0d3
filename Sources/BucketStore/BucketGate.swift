import Foundation

/// Keeps a bucket's deletion and the writes into it from interleaving.
///
/// A write makes folders and renames a file into the bucket's directory or into the store's own
/// folders for it (reserved keys, multipart uploads); a deletion removes all of them. Without this, a
/// write that found the bucket could make its folders again just after the deletion removed them, and
/// the next owner of the name would see the old owner's object (or the write would fail half-way
/// with a 500). So every such step runs inside ``whileOpen(_:_:)``, and a deletion inside
/// ``whileDeleting(_:_:)``: a deletion that finds a write in its step is refused as not empty (the
/// object is about to exist); a write that finds a deletion running waits for it to end, then finds the
/// bucket gone (`NoSuchBucket`) or still there. Both steps are short: folders, renames and fsyncs on
/// NIO's thread pool, never a body streaming. The store is the only writer of its data root, so a lock
/// in the process is enough.
final class BucketGate: @unchecked Sendable {  // `states` is only touched holding `condition`.
    private struct State {
        var writers = 0
        var deleting = false
    }

    private let condition = NSCondition()
    private var states: [String: State] = [:]

    /// Runs `body` while `bucket` cannot be deleted; waits first for a deletion of it that is running.
    /// - Throws: what `body` throws.
    func whileOpen<T>(_ bucket: String, _ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        condition.lock()
        while states[bucket]?.deleting == true { condition.wait() }
        states[bucket, default: State()].writers += 1
        condition.unlock()
        defer {
            condition.lock()
            states[bucket]?.writers -= 1
            if states[bucket]?.writers == 0 { states[bucket] = nil }
            condition.unlock()
        }
        return try body()
    }

    /// Runs `body`, the deletion of `bucket`, while no write step into it runs or starts.
    /// Waits first for another deletion of it that is running.
    /// - Throws: ``StorageError/bucketNotEmpty(_:)`` when a write is in its step, or what `body` throws.
    func whileDeleting<T>(_ bucket: String, _ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        condition.lock()
        while states[bucket]?.deleting == true { condition.wait() }
        guard states[bucket] == nil else {
            condition.unlock()
            throw .bucketNotEmpty(bucket)
        }
        states[bucket] = State(writers: 0, deleting: true)
        condition.unlock()
        defer {
            condition.lock()
            states[bucket] = nil
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
