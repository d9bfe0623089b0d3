/// A linear, non-recursive well-formedness check of an XML document before any parser sees it.
///
/// XMLCoder decodes by recursion over the element tree, so a body of tens of thousands of nested
/// elements overflows the stack; a document type declaration brings entity expansion; and the
/// toolchain's XML parser leaks a little memory on every document it rejects (found by the fuzz
/// target FuzzXML), so a stream of malformed bodies would grow the server. S3 documents are small,
/// shallow and plain, so ``check(_:maxDepth:)`` refuses, in time linear in the body and with a stack
/// bounded by the depth limit, everything outside plain well-formed XML: a DTD, deep nesting, invalid
/// UTF-8 or control characters, unbalanced or mismatched tags, malformed attributes, entity
/// references other than the five predefined and numeric ones, and content outside the root.
public enum XMLShape {
    /// The deepest nesting ChainVault accepts. The deepest S3 document it reads
    /// (`ListBucketResult/Contents/Owner/ID`) has four levels.
    public static let maxDepth = 32

    /// The most attributes one element may carry. S3 documents carry at most `xmlns` (and, on an ACL's
    /// `Grantee`, `xmlns:xsi` and `xsi:type`); the bound keeps the duplicate-attribute check constant per
    /// element, so a body of many attributes costs no more than its length.
    public static let maxAttributes = 16

    /// Why a document was refused.
    public enum Problem: Error, Sendable, Equatable {
        /// `<!DOCTYPE …>` or any other markup declaration (`<!ENTITY`, `<!ELEMENT` …).
        case declaration
        /// Elements nested deeper than the limit.
        case tooDeep
        /// An element with more attributes than ``XMLShape/maxAttributes``.
        case tooManyAttributes
        /// Anything else that is not well-formed XML.
        case malformed
    }

    /// Scans `bytes` once and throws when the document is not plain well-formed XML.
    /// - Throws: ``Problem``.
    public static func check(_ bytes: some Collection<UInt8>, maxDepth: Int = maxDepth) throws(Problem) {
        var scanner = Scanner(bytes: Array(bytes), maxDepth: maxDepth)
        try scanner.document()
    }

    /// How many comparisons the check makes on `bytes`, and its verdict: the tests hold the work to the
    /// body's length (linear growth), since a time limit would be a timed assertion.
    package static func steps(_ bytes: some Collection<UInt8>) -> (steps: Int, problem: Problem?) {
        var scanner = Scanner(bytes: Array(bytes), maxDepth: maxDepth)
        do {
            try scanner.document()
            return (scanner.steps, nil)
        } catch {
            return (scanner.steps, error)
        }
    }

    struct Scanner {
        /// What may follow `<?xml` in the declaration: ` version="1.0"`, then optionally
        /// ` encoding="UTF-8"` (any case) and ` standalone="yes"` or `"no"`, in that order.
        static func isDeclaration(_ content: ArraySlice<UInt8>) -> Bool {
            var rest = String(decoding: content, as: UTF8.self)[...]
            func pseudoAttribute(_ name: String, _ allowed: (String) -> Bool) -> Bool? {
                let trimmed = rest.drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
                guard trimmed.count < rest.count, trimmed.hasPrefix(name) else { return nil }
                var after = trimmed.dropFirst(name.count).drop(while: { $0 == " " })
                guard after.first == "=" else { return false }
                after = after.dropFirst().drop(while: { $0 == " " })
                guard let quote = after.first, quote == "\"" || quote == "'", let close = after.dropFirst().firstIndex(of: quote) else {
                    return false
                }
                guard allowed(String(after[after.index(after: after.startIndex)..<close])) else { return false }
                rest = after[after.index(after: close)...]
                return true
            }
            guard pseudoAttribute("version", { $0 == "1.0" }) == true else { return false }
            if pseudoAttribute("encoding", { $0.lowercased() == "utf-8" }) == false { return false }
            if pseudoAttribute("standalone", { $0 == "yes" || $0 == "no" }) == false { return false }
            return rest.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        }

        let bytes: [UInt8]
        let maxDepth: Int
        var index = 0
        var open: [ArraySlice<UInt8>] = []
        var rootClosed = false
        /// Bytes scanned and names compared so far: what ``XMLShape/steps(_:)`` reports.
        var steps = 0

        init(bytes: [UInt8], maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        mutating func document() throws(Problem) {
            guard String(validating: bytes, as: UTF8.self) != nil else { throw .malformed }
            // No control character anywhere but tab, line feed and carriage return (XML 1.0).
            guard !bytes.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else { throw .malformed }
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
            var sawRoot = false
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "<") {
                    try markup(atStart: index == 0 || (index == 3 && bytes.starts(with: [0xEF, 0xBB, 0xBF])))
                    if !open.isEmpty || rootClosed { sawRoot = true }
                } else if open.isEmpty {
                    // Outside the root: white space only.
                    guard byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D else { throw .malformed }
                    index += 1
                } else {
                    try text(until: UInt8(ascii: "<"))
                }
            }
            guard sawRoot, open.isEmpty, rootClosed else { throw .malformed }
        }

        /// One piece of markup starting at `<`.
        mutating func markup(atStart: Bool) throws(Problem) {
            if starts(with: "<?") {
                let end = try after("?>", from: index + 2)
                index += 2
                let target = String(decoding: try name(), as: UTF8.self)
                if target.lowercased() == "xml" {
                    // The declaration: at the very start, version 1.x, UTF-8 if an encoding is named (the
                    // bytes were checked as UTF-8), standalone yes or no.
                    guard atStart, target == "xml", Self.isDeclaration(bytes[index..<(end - 2)]) else { throw .malformed }
                } else {
                    // No other processing instruction: S3 documents have none, and FoundationXML reads
                    // one without data (`<?x?>`) through a null pointer and crashes the process (FuzzXML).
                    throw .malformed
                }
                index = end
            } else if starts(with: "<!--") {
                let end = try after("-->", from: index + 4)
                // "--" may not occur inside a comment, nor may it end in "-".
                let inner = bytes[(index + 4)..<(end - 3)]
                guard !zip(inner, inner.dropFirst()).contains(where: { $0 == 0x2D && $1 == 0x2D }), inner.last != 0x2D else {
                    throw .malformed
                }
                index = end
            } else if starts(with: "<![CDATA[") {
                guard !open.isEmpty else { throw .malformed }
                index = try after("]]>", from: index + 9)
            } else if starts(with: "<!") {
                throw .declaration
            } else if starts(with: "</") {
                index += 2
                let name = try self.name()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ">"), let top = open.popLast(), top.elementsEqual(name) else {
                    throw .malformed
                }
                index += 1
                if open.isEmpty { rootClosed = true }
            } else {
                guard !rootClosed else { throw .malformed }
                index += 1
                let name = try self.name()
                // S3 documents use no prefixed names; an undeclared prefix is an error the parser leaks on.
                guard !name.contains(UInt8(ascii: ":")) else { throw .malformed }
                var attributes: [ArraySlice<UInt8>] = []
                while true {
                    let spaced = skipSpace()
                    guard index < bytes.count else { throw .malformed }
                    if bytes[index] == UInt8(ascii: ">") {
                        index += 1
                        guard open.count < maxDepth else { throw .tooDeep }
                        open.append(name)
                        return
                    }
                    if bytes[index] == UInt8(ascii: "/") {
                        guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: ">") else { throw .malformed }
                        index += 2
                        if open.isEmpty { rootClosed = true }
                        return
                    }
                    guard spaced else { throw .malformed }
                    let attribute = try self.name()
                    guard attributes.count < XMLShape.maxAttributes else { throw .tooManyAttributes }
                    for earlier in attributes {
                        steps += 1
                        guard !earlier.elementsEqual(attribute) else { throw .malformed }
                    }
                    attributes.append(attribute)
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { throw .malformed }
                    index += 1
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                        throw .malformed
                    }
                    let quote = bytes[index]
                    index += 1
                    let valueStart = index
                    try text(until: quote)
                    guard index < bytes.count else { throw .malformed }
                    if attribute.elementsEqual("xmlns".utf8) {
                        guard Self.isNamespaceName(bytes[valueStart..<index]) else { throw .malformed }
                    } else if attribute.contains(UInt8(ascii: ":")) {
                        // No prefixes: S3 documents declare none, and an undeclared one is an error.
                        throw .malformed
                    }
                    index += 1
                }
            }
        }

        /// Character data up to (not including) `terminator`: no `<` (in attribute values), no control
        /// characters, and only predefined or numeric entity references.
        mutating func text(until terminator: UInt8) throws(Problem) {
            while index < bytes.count, bytes[index] != terminator {
                steps += 1
                let byte = bytes[index]
                if byte < 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D { throw .malformed }
                if byte == UInt8(ascii: "<") { throw .malformed }
                // "]]>" ends a CDATA section and may not stand in text.
                if byte == UInt8(ascii: "]"), index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "]"),
                    bytes[index + 2] == UInt8(ascii: ">")
                {
                    throw .malformed
                }
                if byte == UInt8(ascii: "&") {
                    try reference()
                } else {
                    index += 1
                }
            }
        }

        /// `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&#…;` `&#x…;`, naming an allowed XML character.
        mutating func reference() throws(Problem) {
            guard let semicolon = bytes[index...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else { throw .malformed }
            let body = bytes[(index + 1)..<semicolon]
            let named: [[UInt8]] = [Array("amp".utf8), Array("lt".utf8), Array("gt".utf8), Array("quot".utf8), Array("apos".utf8)]
            if named.contains(where: { body.elementsEqual($0) }) {
                index = semicolon + 1
                return
            }
            guard body.first == UInt8(ascii: "#") else { throw .malformed }
            let digits = body.dropFirst()
            let value: UInt32?
            if digits.first == UInt8(ascii: "x") {
                value = UInt32(hexDigits: String(decoding: digits.dropFirst(), as: UTF8.self))
            } else {
                value = UInt32(decimalDigits: String(decoding: digits, as: UTF8.self))
            }
            guard let value,
                value == 0x9 || value == 0xA || value == 0xD || (0x20...0xD7FF).contains(value) || (0xE000...0xFFFD).contains(value)
                    || (0x10000...0x10FFFF).contains(value)
            else { throw .malformed }
            index = semicolon + 1
        }

        /// An element or attribute name: an ASCII letter, `_` or `:` first, then also digits, `-` and `.`.
        /// Every name S3 uses is ASCII; non-ASCII names are refused, since a character XML allows only
        /// inside a name (a combining mark, U+031A) makes the parser report an error and leak (FuzzXML).
        mutating func name() throws(Problem) -> ArraySlice<UInt8> {
            let start = index
            while index < bytes.count {
                steps += 1
                let byte = bytes[index]
                let isStart =
                    (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: ":")
                let isLater =
                    isStart || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: ".")
                guard index == start ? isStart : isLater else { break }
                index += 1
            }
            guard index > start else { throw .malformed }
            return bytes[start..<index]
        }

        /// The namespace names accepted: S3's, with or without its final slash. Anything else the parser
        /// checks as a URI and may warn about (and leak on); S3 documents carry no other namespace.
        static let namespaceNames: [[UInt8]] = [
            Array("http://s3.amazonaws.com/doc/2006-03-01/".utf8), Array("http://s3.amazonaws.com/doc/2006-03-01".utf8),
        ]

        static func isNamespaceName(_ value: ArraySlice<UInt8>) -> Bool {
            namespaceNames.contains { value.elementsEqual($0) }
        }

        @discardableResult
        mutating func skipSpace() -> Bool {
            let start = index
            while index < bytes.count, isSpace(bytes[index]) {
                steps += 1
                index += 1
            }
            return index > start
        }

        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

        func starts(with prefix: String) -> Bool {
            let prefix = Array(prefix.utf8)
            return index + prefix.count <= bytes.count && bytes[index..<index + prefix.count].elementsEqual(prefix)
        }

        /// The index just after the first `terminator` at or after `start`.
        mutating func after(_ terminator: String, from start: Int) throws(Problem) -> Int {
            let terminator = Array(terminator.utf8)
            var position = start
            while position + terminator.count <= bytes.count {
                steps += 1
                if bytes[position] == terminator[0], bytes[position..<position + terminator.count].elementsEqual(terminator) {
                    return position + terminator.count
                }
                position += 1
            }
            throw .malformed
        }
    }
}
