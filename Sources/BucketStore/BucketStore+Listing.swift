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
    /// Lists a bucket's objects in key order: its plain files and its reserved keys (``ObjectKey``), merged.
    /// - Throws: ``StorageError/noSuchBucket(_:)``, ``StorageError/io(operation:path:errno:)``.
    public func listObjects(bucket: String, _ request: ListRequest) async throws(StorageError) -> ListPage {
        let reservedPath = reservedBucketPath(bucket)
        return try await blocking { () throws(StorageError) in
            let bucketPath = try self.existingBucketPath(bucket)
            guard request.maxKeys > 0 else { return ListPage(objects: [], commonPrefixes: [], isTruncated: false, lastItem: nil) }
            var plain = ListWalker(request: request)
            try plain.visit(directory: bucketPath, keyPrefix: "")
            var reserved = ListWalker(request: request)
            try reserved.visitReserved(directory: reservedPath)
            let merged = ListWalker.merge(plain.items, reserved.items)
            let truncated = merged.count > request.maxKeys
            let items = merged.prefix(request.maxKeys)
            var page = ListPage(objects: [], commonPrefixes: [], isTruncated: truncated, lastItem: nil)
            for item in items {
                switch item {
                case .object(let key, let path):
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
        case object(key: String, path: String)
        case commonPrefix(String)

        /// What the item sorts by: its key or its prefix.
        var name: String {
            switch self {
            case .object(let key, _): key
            case .commonPrefix(let prefix): prefix
            }
        }
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
                offer(key: key, path: path)
            }
        }
    }

    /// Takes the object `key` at `path` into the listing, as itself or rolled into its common prefix,
    /// when it is in range. Keys must come in S3 order.
    private mutating func offer(key: String, path: String) {
        guard Self.starts(key, with: request.prefix) else { return }
        if let start = request.startAfter, !Self.precedes(start, key) { return }
        if let prefix = commonPrefix(of: key) {
            emit(commonPrefix: prefix)
            return
        }
        items.append(.object(key: key, path: path))
    }

    /// Walks a bucket's reserved keys (`.chainvault/keys/<bucket>`): folders named by hex digits of the
    /// key, `object` in the last. Hex digits sort as the bytes they encode, and a folder's own `object`
    /// (the shorter key) before its subfolders, so the walk meets keys in S3 order.
    mutating func visitReserved(directory: String) throws(StorageError) {
        try visitReserved(
            directory: directory, digits: "", prefixDigits: ObjectKey.hex(request.prefix.utf8),
            startDigits: request.startAfter.map { ObjectKey.hex($0.utf8) })
    }

    private mutating func visitReserved(directory: String, digits: String, prefixDigits: String, startDigits: String?) throws(StorageError)
    {
        guard let entries = try FileOperations.entries(directory) else { return }
        if entries.contains(where: { $0.name == ObjectKey.reservedFileName && $0.kind == .file }),
            let key = ObjectKey.reservedKey(hexDigits: digits)
        {
            offer(key: key, path: directory + "/" + ObjectKey.reservedFileName)
        }
        for entry in entries.filter({ $0.kind == .directory }).sorted(by: { Self.precedes($0.name, $1.name) }) {
            if isFull { return }
            let folder = digits + entry.name
            // Every key below starts with the folder's bytes: skip folders outside the prefix, or wholly before start-after.
            guard Self.starts(folder, with: prefixDigits) || Self.starts(prefixDigits, with: folder) else { continue }
            if let startDigits, !Self.precedes(startDigits, folder), !Self.starts(startDigits, with: folder) { continue }
            try visitReserved(directory: directory + "/" + entry.name, digits: folder, prefixDigits: prefixDigits, startDigits: startDigits)
        }
    }

    /// Two walks' items as one list in S3 order. A common prefix both found is listed once; a key in both
    /// places (a crash between a plain write and the removal of its reserved copy) is the plain file.
    static func merge(_ plain: [Item], _ reserved: [Item]) -> [Item] {
        var result: [Item] = []
        result.reserveCapacity(plain.count + reserved.count)
        var (i, j) = (0, 0)
        while i < plain.count || j < reserved.count {
            if j == reserved.count || (i < plain.count && precedes(plain[i].name, reserved[j].name)) {
                result.append(plain[i])
                i += 1
            } else if i == plain.count || precedes(reserved[j].name, plain[i].name) {
                result.append(reserved[j])
                j += 1
            } else {
                result.append(plain[i])
                i += 1
                j += 1
            }
        }
        return result
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
