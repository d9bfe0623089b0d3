/// Finds a name that an object of a JSON text holds twice (RFC 8259 §4: names "SHOULD be unique").
///
/// Foundation's decoder keeps one of the two values silently; a proxy or a log pipeline reading the
/// same body may keep the other, so the same request means one thing there and another here (a parser
/// differential). The hospital refuses such a body instead. One pass, no recursion (nesting is a stack),
/// names compared after their escapes are decoded (`"a"` and `"\u0061"` are the same name). It only
/// looks for duplicates: whether the text is JSON at all is the decoder's verdict.
enum DuplicateJSONKeys {
    private enum Container {
        case object(names: Set<[UInt16]>, expectingName: Bool)
        case array
    }

    /// The first name that occurs twice in one object, or nil.
    static func first(in bytes: some Collection<UInt8>) -> String? {
        let bytes = Array(bytes)
        var stack: [Container] = []
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "{"):
                stack.append(.object(names: [], expectingName: true))
                index += 1
            case UInt8(ascii: "["):
                stack.append(.array)
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
                index += 1
            case UInt8(ascii: ","):
                if case .object(let names, _) = stack.last { stack[stack.count - 1] = .object(names: names, expectingName: true) }
                index += 1
            case UInt8(ascii: "\""):
                let (name, end) = string(bytes, from: index + 1)
                index = end
                if case .object(var names, true) = stack.last {
                    guard names.insert(name).inserted else { return String(decoding: name, as: UTF16.self) }
                    stack[stack.count - 1] = .object(names: names, expectingName: false)
                }
            default:
                index += 1
            }
        }
        return nil
    }

    /// The string starting after its opening quote, as UTF-16 with its escapes decoded, and the index
    /// after its closing quote (the end of the text when it has none).
    private static func string(_ bytes: [UInt8], from start: Int) -> ([UInt16], Int) {
        var units: [UInt16] = []
        var index = start
        var run = start
        func flush(upTo end: Int) { units.append(contentsOf: String(decoding: bytes[run..<end], as: UTF8.self).utf16) }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                flush(upTo: index)
                return (units, index + 1)
            }
            guard byte == UInt8(ascii: "\\"), index + 1 < bytes.count else {
                index += 1
                continue
            }
            flush(upTo: index)
            let escaped = bytes[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "b"): units.append(0x08)
            case UInt8(ascii: "f"): units.append(0x0C)
            case UInt8(ascii: "n"): units.append(0x0A)
            case UInt8(ascii: "r"): units.append(0x0D)
            case UInt8(ascii: "t"): units.append(0x09)
            case UInt8(ascii: "u"):
                if index + 4 <= bytes.count, let unit = UInt16(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) {
                    units.append(unit)
                    index += 4
                }
            default: units.append(UInt16(escaped))
            }
            run = index
        }
        flush(upTo: bytes.count)
        return (units, bytes.count)
    }
}
