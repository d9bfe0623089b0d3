/// What an operator's dashboards and the expiry of abandoned uploads need from the store.
extension BucketStore {
    /// How much a bucket holds.
    public struct BucketUsage: Sendable, Equatable {
        public var bucket: String
        /// Objects (plain files under the bucket's folder, and its reserved keys).
        public var objects: Int
        /// Their bytes.
        public var bytes: Int64
        /// Multipart uploads begun and neither completed nor aborted.
        public var openUploads: Int
    }

    /// Walks every bucket and counts its objects, bytes and open multipart uploads. It reads the whole
    /// tree: run it in the background, not per request.
    public func usage() async throws(StorageError) -> [BucketUsage] {
        var result: [BucketUsage] = []
        for bucket in try await listBuckets() {
            let uploads = (try? await listMultipartUploads(bucket: bucket.name).count) ?? 0
            let paths = [bucketPath(bucket.name), reservedBucketPath(bucket.name)]
            let (objects, bytes) = try await blocking { () throws(StorageError) in
                try paths.map { path throws(StorageError) in try Self.countFiles(under: path) }.reduce((0, 0)) {
                    ($0.0 + $1.0, $0.1 + $1.1)
                }
            }
            result.append(BucketUsage(bucket: bucket.name, objects: objects, bytes: bytes, openUploads: uploads))
        }
        return result
    }

    static func countFiles(under path: String) throws(StorageError) -> (files: Int, bytes: Int64) {
        var files = 0
        var bytes: Int64 = 0
        var pending = [path]
        while let folder = pending.popLast() {
            for entry in try FileOperations.entries(folder) ?? [] {
                let child = folder + "/" + entry.name
                switch entry.kind {
                case .directory: pending.append(child)
                case .file:
                    // A file removed since the listing is simply not counted.
                    guard let status = try FileOperations.status(child) else { continue }
                    files += 1
                    bytes += status.size
                case .other: continue
                }
            }
        }
        return (files, bytes)
    }

    /// Aborts the multipart uploads initiated before `cutoff` (seconds since 1970), removing their parts,
    /// and forgets completed uploads recorded before it (kept until then so that a repeated
    /// CompleteMultipartUpload gets the same answer).
    /// - Returns: How many open uploads were aborted.
    @discardableResult
    public func expireMultipartUploads(initiatedBefore cutoff: Int64) async throws(StorageError) -> Int {
        var aborted = 0
        for bucket in try await listBuckets() {
            let folder = uploadsPath(bucket.name)
            aborted += try await blocking { () throws(StorageError) in
                var count = 0
                for entry in try FileOperations.entries(folder) ?? [] where entry.kind == .directory {
                    let path = folder + "/" + entry.name
                    if let completed = try FileOperations.status(path + "/completed.json") {
                        if completed.modificationNanos / 1_000_000_000 < cutoff { try Self.removeTree(path) }
                        continue
                    }
                    // An unreadable record is an upload whose creation a crash cut short: judge it by its folder's age.
                    var initiated = try Self.readUpload(path)?.initiated
                    if initiated == nil { initiated = (try FileOperations.status(path)?.modificationNanos ?? 0) / 1_000_000_000 }
                    guard let initiated, initiated < cutoff else { continue }
                    try Self.removeTree(path)
                    count += 1
                }
                return count
            }
        }
        return aborted
    }
}
