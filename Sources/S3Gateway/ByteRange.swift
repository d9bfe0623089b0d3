import S3Protocol

/// A `Range: bytes=...` request header, resolved against an object size.
enum ByteRange {
    /// Resolves a Range header. Returns nil when the whole object should be sent: no header, a
    /// syntactically invalid one, or several ranges (S3 serves the whole object then).
    /// - Throws: ``S3Error`` `InvalidRange` when the range starts past the end of the object.
    static func resolve(_ header: String?, size: Int64) throws(S3Error) -> ClosedRange<Int64>? {
        guard let header, header.hasPrefix("bytes=") else { return nil }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: " ")
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            // bytes=-n: the last n bytes.
            guard let suffix = Int64(last), suffix >= 0 else { return nil }
            guard suffix > 0, size > 0 else { throw unsatisfiable(size) }
            return max(0, size - suffix)...(size - 1)
        }
        guard let start = Int64(first), start >= 0 else { return nil }
        var end = size - 1
        if !last.isEmpty {
            guard let value = Int64(last), value >= start else { return nil }
            end = min(value, size - 1)
        }
        guard start < size else { throw unsatisfiable(size) }
        return start...end
    }

    static func unsatisfiable(_ size: Int64) -> S3Error {
        S3Error(.invalidRange, "The requested range is not satisfiable for an object of \(size) bytes.")
    }
}

extension Substring {
    func trimmingCharacters(in character: Character) -> Substring {
        var result = self
        while result.first == character { result.removeFirst() }
        while result.last == character { result.removeLast() }
        return result
    }
}
