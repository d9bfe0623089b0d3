/// The query string of a request, split into decoded name/value pairs in the order sent.
public struct QueryParameters: Sendable, Equatable {
    /// The decoded pairs; a parameter without `=` has an empty value.
    public private(set) var pairs: [(name: String, value: String)]
    /// Whether a name appeared without `=` (S3 subresources such as `?uploads` do this).
    private var names: Set<String>

    /// Parses a raw query string (the part after `?`, without it).
    /// - Throws: ``S3Error`` `InvalidArgument` when an escape is malformed.
    public init(raw: Substring) throws(S3Error) {
        var pairs: [(String, String)] = []
        var names: Set<String> = []
        // Split on the bytes `&` and `=` (ASCII, so every cut is on a character boundary), not on
        // characters: grapheme breaking would cost more than the rest of the parse.
        for part in raw.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let name: Substring
            let value: Substring
            if let equals = part.firstIndex(of: UInt8(ascii: "=")) {
                name = Substring(part[..<equals])
                value = Substring(part[part.index(after: equals)...])
            } else {
                name = Substring(part)
                value = ""
            }
            guard let decodedName = URIEncoding.decode(name), let decodedValue = URIEncoding.decode(value) else {
                throw S3Error(.invalidArgument, "The query string holds a malformed percent-encoding.")
            }
            pairs.append((decodedName, decodedValue))
            names.insert(decodedName)
        }
        self.pairs = pairs
        self.names = names
    }

    /// The first value of `name`, or nil when absent.
    public subscript(_ name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    /// Whether `name` appears, with or without a value.
    public func contains(_ name: String) -> Bool { names.contains(name) }

    public static func == (lhs: QueryParameters, rhs: QueryParameters) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0.name == $1.name && $0.value == $1.value }
    }
}
