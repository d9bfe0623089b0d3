/// Writes the listing documents (ListObjects v1 and v2, ListObjectVersions) straight into bytes.
///
/// A listing is the one S3 response whose size grows with the request: 1000 keys make about
/// 6000 text values. XMLCoder escapes each value with five Foundation `replacingOccurrences`
/// calls and builds a tree of boxed values first, which made a 1000-key page cost ~80 ms of CPU
/// (`make bench`, BENCHMARKS.md 2026-11-30). This writer produces the same bytes — the Codable
/// conformances stay, and `ListingXMLTests` checks byte equality against ``S3XML/encode(_:rootKey:namespaced:)``
/// over random keys — in one pass. Every other document goes through XMLCoder.
struct ListingXML {
    private(set) var bytes: [UInt8] = []

    init(root: String, capacity: Int) {
        bytes.reserveCapacity(capacity)
        bytes.append(contentsOf: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".utf8)
        bytes.append(UInt8(ascii: "<"))
        bytes.append(contentsOf: root.utf8)
        bytes.append(contentsOf: #" xmlns=""#.utf8)
        bytes.append(contentsOf: S3XML.namespace.utf8)
        bytes.append(contentsOf: #"">"#.utf8)
    }

    mutating func open(_ name: StaticString) {
        bytes.append(UInt8(ascii: "<"))
        append(name)
        bytes.append(UInt8(ascii: ">"))
    }

    mutating func close(_ name: StaticString) {
        bytes.append(contentsOf: "</".utf8)
        append(name)
        bytes.append(UInt8(ascii: ">"))
    }

    /// `<name>text</name>`, the text escaped as XMLCoder escapes element text.
    mutating func element(_ name: StaticString, _ text: String) {
        open(name)
        escape(text)
        close(name)
    }

    mutating func element(_ name: StaticString, _ text: String?) {
        if let text { element(name, text) }
    }

    mutating func element(_ name: StaticString, _ value: some BinaryInteger) {
        element(name, String(value))
    }

    mutating func element(_ name: StaticString, _ value: Bool) {
        element(name, value ? "true" : "false")
    }

    mutating func object(_ object: ListedObject, as name: StaticString, version: (id: String, isLatest: Bool)? = nil) {
        open(name)
        element("Key", object.key)
        if let version {
            element("VersionId", version.id)
            element("IsLatest", version.isLatest)
        }
        element("LastModified", object.lastModified)
        element("ETag", object.eTag)
        element("Size", object.size)
        if let owner = object.owner {
            open("Owner")
            element("ID", owner.id)
            element("DisplayName", owner.displayName)
            close("Owner")
        }
        element("StorageClass", object.storageClass)
        close(name)
    }

    mutating func commonPrefixes(_ prefixes: [CommonPrefix]) {
        for prefix in prefixes {
            open("CommonPrefixes")
            element("Prefix", prefix.prefix)
            close("CommonPrefixes")
        }
    }

    mutating func finish(_ root: String) -> [UInt8] {
        bytes.append(contentsOf: "</".utf8)
        bytes.append(contentsOf: root.utf8)
        bytes.append(UInt8(ascii: ">"))
        return bytes
    }

    private mutating func append(_ name: StaticString) {
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// The five characters XMLCoder escapes in elements, with the same entities.
    private mutating func escape(_ text: String) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "'"): bytes.append(contentsOf: "&apos;".utf8)
            case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
            default: bytes.append(byte)
            }
        }
    }

    /// Room for a page of `count` entries without growing the buffer.
    static func capacity(entries count: Int) -> Int { 512 + count * 320 }
}

extension ListBucketResultV1 {
    /// The document, as ``S3XML/encode(_:rootKey:namespaced:)`` writes it, in one pass.
    public func xml() -> [UInt8] {
        var writer = ListingXML(root: "ListBucketResult", capacity: ListingXML.capacity(entries: contents.count + commonPrefixes.count))
        writer.element("Name", name)
        writer.element("Prefix", prefix)
        writer.element("Marker", marker)
        writer.element("NextMarker", nextMarker)
        writer.element("MaxKeys", maxKeys)
        writer.element("Delimiter", delimiter)
        writer.element("IsTruncated", isTruncated)
        writer.element("EncodingType", encodingType)
        for object in contents { writer.object(object, as: "Contents") }
        writer.commonPrefixes(commonPrefixes)
        return writer.finish("ListBucketResult")
    }
}

extension ListBucketResultV2 {
    /// The document, as ``S3XML/encode(_:rootKey:namespaced:)`` writes it, in one pass.
    public func xml() -> [UInt8] {
        var writer = ListingXML(root: "ListBucketResult", capacity: ListingXML.capacity(entries: contents.count + commonPrefixes.count))
        writer.element("Name", name)
        writer.element("Prefix", prefix)
        writer.element("MaxKeys", maxKeys)
        writer.element("KeyCount", keyCount)
        writer.element("Delimiter", delimiter)
        writer.element("IsTruncated", isTruncated)
        writer.element("ContinuationToken", continuationToken)
        writer.element("NextContinuationToken", nextContinuationToken)
        writer.element("StartAfter", startAfter)
        writer.element("EncodingType", encodingType)
        for object in contents { writer.object(object, as: "Contents") }
        writer.commonPrefixes(commonPrefixes)
        return writer.finish("ListBucketResult")
    }
}

extension ListVersionsResult {
    /// The document, as ``S3XML/encode(_:rootKey:namespaced:)`` writes it, in one pass.
    public func xml() -> [UInt8] {
        var writer = ListingXML(root: "ListVersionsResult", capacity: ListingXML.capacity(entries: versions.count + commonPrefixes.count))
        writer.element("Name", name)
        writer.element("Prefix", prefix)
        writer.element("KeyMarker", keyMarker)
        writer.element("VersionIdMarker", versionIdMarker)
        writer.element("NextKeyMarker", nextKeyMarker)
        writer.element("NextVersionIdMarker", nextVersionIdMarker)
        writer.element("MaxKeys", maxKeys)
        writer.element("Delimiter", delimiter)
        writer.element("IsTruncated", isTruncated)
        writer.element("EncodingType", encodingType)
        for version in versions {
            writer.object(version.object, as: "Version", version: (version.versionId, version.isLatest))
        }
        writer.commonPrefixes(commonPrefixes)
        return writer.finish("ListVersionsResult")
    }
}
