/// What to list: keys after `startAfter` that begin with `prefix`, rolled up at `delimiter`.
public struct ListRequest: Sendable, Equatable {
    public var prefix: String
    public var delimiter: String?
    /// List only keys (and common prefixes) that sort after this one: ListObjects' marker,
    /// ListObjectsV2's start-after or continuation token.
    public var startAfter: String?
    /// At most this many keys and common prefixes together.
    public var maxKeys: Int

    public init(prefix: String = "", delimiter: String? = nil, startAfter: String? = nil, maxKeys: Int = 1000) {
        self.prefix = prefix
        self.delimiter = delimiter?.isEmpty == true ? nil : delimiter
        self.startAfter = startAfter?.isEmpty == true ? nil : startAfter
        self.maxKeys = maxKeys
    }
}

/// One page of a listing, in S3 order (UTF-8 byte order of keys).
public struct ListPage: Sendable, Equatable {
    public var objects: [ObjectInfo]
    public var commonPrefixes: [String]
    /// Whether more keys follow this page.
    public var isTruncated: Bool
    /// The last key or common prefix of this page: where the next page starts after.
    public var lastItem: String?
}

extension BucketStore {
    /// Lists a bucket's objects in key order.
    /// - Throws: ``StorageError/noSuchBucket(_:)``, ``StorageError/io(operation:path:errno:)``.
    public func listObjects(bucket: String, _ request: ListRequest) async throws(StorageError) -> ListPage {
        try await blocking { () throws(StorageError) in
            let bucketPath = try self.existingBucketPath(bucket)
            guard request.maxKeys > 0 else { return ListPage(objects: [], commonPrefixes: [], isTruncated: false, lastItem: nil) }
            var walker = ListWalker(request: request)
            try walker.visit(directory: bucketPath, keyPrefix: "")
            let truncated = walker.items.count > request.maxKeys
            let items = walker.items.prefix(request.maxKeys)
            var page = ListPage(objects: [], commonPrefixes: [], isTruncated: truncated, lastItem: nil)
            for item in items {
                switch item {
                case .object(let key, let path, _):
                    // An object deleted since the walk found it is left out.
                    if let info = try self.info(bucket: bucket, key: key, path: path) { page.objects.append(info) }
                    page.lastItem = key
                case .commonPrefix(let prefix):
                    page.commonPrefixes.append(prefix)
                    page.lastItem = prefix
                }
            }
            return page
        }
    }
}

/// Walks a bucket directory in S3 key order, pruning subtrees that cannot contribute.
struct ListWalker {
    enum Item {
        case object(key: String, path: String, status: FileOperations.Status)
        case commonPrefix(String)
    }

    let request: ListRequest
    var items: [Item] = []
    private var lastPrefix: String?

    init(request: ListRequest) {
        self.request = request
    }

    private var isFull: Bool { items.count > request.maxKeys }

    /// `a < b` in UTF-8 byte order, the order S3 lists keys in.
    static func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
    static func starts(_ text: String, with prefix: String) -> Bool { text.utf8.starts(with: prefix.utf8) }

    /// The common prefix `key` rolls up into, if the delimiter occurs after the listing prefix.
    private func commonPrefix(of key: String) -> String? {
        guard let delimiter = request.delimiter else { return nil }
        let rest = Array(key.utf8.dropFirst(request.prefix.utf8.count))
        let needle = Array(delimiter.utf8)
        guard rest.count >= needle.count else { return nil }
        for start in 0...(rest.count - needle.count) where Array(rest[start..<start + needle.count]) == needle {
            return request.prefix + String(decoding: rest[0..<start + needle.count], as: UTF8.self)
        }
        return nil
    }

    /// Whether items under `prefix` were already returned on an earlier page.
    private func coveredByStart(_ prefix: String) -> Bool {
        guard let start = request.startAfter else { return false }
        return Self.starts(start, with: prefix)
    }

    private mutating func emit(commonPrefix prefix: String) {
        guard prefix != lastPrefix, !coveredByStart(prefix) else { return }
        if let start = request.startAfter, !Self.precedes(start, prefix) { return }
        lastPrefix = prefix
        items.append(.commonPrefix(prefix))
    }

    mutating func visit(directory: String, keyPrefix: String) throws(StorageError) {
        let entries = (try FileOperations.entries(directory) ?? [])
            .filter { $0.kind != .other }
            .map { entry in (entry, entry.kind == .directory ? entry.name + "/" : entry.name) }
            .sorted { Self.precedes($0.1, $1.1) }
        for (entry, sortName) in entries {
            if isFull { return }
            let key = keyPrefix + sortName
            let path = directory + "/" + entry.name
            if entry.kind == .directory {
                // A folder holds keys that all start with `key` (which ends in '/').
                guard Self.starts(key, with: request.prefix) || Self.starts(request.prefix, with: key) else { continue }
                if let start = request.startAfter, !Self.precedes(start, key), !Self.starts(start, with: key) { continue }
                if Self.starts(key, with: request.prefix), let prefix = commonPrefix(of: key) {
                    if prefix != lastPrefix, !coveredByStart(prefix), try Self.holdsObject(path) {
                        emit(commonPrefix: prefix)
                    }
                    continue
                }
                try visit(directory: path, keyPrefix: key)
            } else {
                guard Self.starts(key, with: request.prefix) else { continue }
                if let start = request.startAfter, !Self.precedes(start, key) { continue }
                if let prefix = commonPrefix(of: key) {
                    emit(commonPrefix: prefix)
                    continue
                }
                guard let status = try FileOperations.status(path), status.isRegular else { continue }
                items.append(.object(key: key, path: path, status: status))
            }
        }
    }

    /// Whether a folder tree holds at least one object (empty folders are not listed).
    static func holdsObject(_ path: String) throws(StorageError) -> Bool {
        for entry in try FileOperations.entries(path) ?? [] {
            if entry.kind == .file { return true }
            if entry.kind == .directory, try holdsObject(path + "/" + entry.name) { return true }
        }
        return false
    }
}
