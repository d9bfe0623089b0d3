/// A linear, non-recursive look at an XML document before any parser builds a tree of it.
///
/// XMLCoder decodes by recursion over the element tree, so a body of tens of thousands of
/// nested elements overflows the stack; a document type declaration brings entity expansion.
/// S3 documents are a few levels deep and never carry a DTD, so ``check(_:maxDepth:)``
/// refuses both before the decoder runs, in time linear in the body and constant space.
public enum XMLShape {
    /// The deepest nesting ChainVault accepts. The deepest S3 document it reads
    /// (`ListBucketResult/Contents/Owner/ID`) has four levels.
    public static let maxDepth = 32

    /// Why a document was refused.
    public enum Problem: Error, Sendable, Equatable {
        /// `<!DOCTYPE …>` or any other markup declaration (`<!ENTITY`, `<!ELEMENT` …).
        case declaration
        /// Elements nested deeper than the limit.
        case tooDeep
        /// An unterminated tag, comment, CDATA section or processing instruction, or a
        /// closing tag without an opening one.
        case malformed
    }

    /// Scans `bytes` once and throws when the document declares a DTD, nests deeper than
    /// `maxDepth`, or is cut off inside markup. Well-formedness beyond that is the parser's job.
    /// - Throws: ``Problem``.
    public static func check(_ bytes: some Collection<UInt8>, maxDepth: Int = maxDepth) throws(Problem) {
        let bytes = Array(bytes)
        var depth = 0
        var index = 0
        let count = bytes.count
        while index < count {
            guard bytes[index] == UInt8(ascii: "<") else {
                index += 1
                continue
            }
            let next = index + 1 < count ? bytes[index + 1] : 0
            switch next {
            case UInt8(ascii: "?"):
                index = try skip(past: Array("?>".utf8), in: bytes, from: index + 2)
            case UInt8(ascii: "!"):
                if starts(bytes, at: index, with: "<!--") {
                    index = try skip(past: Array("-->".utf8), in: bytes, from: index + 4)
                } else if starts(bytes, at: index, with: "<![CDATA[") {
                    index = try skip(past: Array("]]>".utf8), in: bytes, from: index + 9)
                } else {
                    throw .declaration
                }
            case UInt8(ascii: "/"):
                depth -= 1
                guard depth >= 0 else { throw .malformed }
                index = try skip(past: [UInt8(ascii: ">")], in: bytes, from: index + 2)
            default:
                let (end, selfClosing) = try endOfStartTag(in: bytes, from: index + 1)
                if !selfClosing {
                    depth += 1
                    guard depth <= maxDepth else { throw .tooDeep }
                }
                index = end
            }
        }
    }

    /// The index after the `>` of a start tag, skipping quoted attribute values, and whether
    /// the tag closes itself (`<a/>`).
    private static func endOfStartTag(in bytes: [UInt8], from start: Int) throws(Problem) -> (Int, Bool) {
        var quote: UInt8? = nil
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: "<") {
                throw .malformed
            } else if byte == UInt8(ascii: ">") {
                return (index + 1, index > start && bytes[index - 1] == UInt8(ascii: "/"))
            }
            index += 1
        }
        throw .malformed
    }

    /// The index just after the first occurrence of `terminator` at or after `start`.
    private static func skip(past terminator: [UInt8], in bytes: [UInt8], from start: Int) throws(Problem) -> Int {
        var index = start
        while index + terminator.count <= bytes.count {
            if bytes[index] == terminator[0], bytes[index..<index + terminator.count].elementsEqual(terminator) {
                return index + terminator.count
            }
            index += 1
        }
        throw .malformed
    }

    private static func starts(_ bytes: [UInt8], at index: Int, with prefix: String) -> Bool {
        let prefix = Array(prefix.utf8)
        return index + prefix.count <= bytes.count && bytes[index..<index + prefix.count].elementsEqual(prefix)
    }
}
