import Foundation

/// The string catalogues, one per language, chosen by `Accept-Language`. English is shipped and is the
/// fallback; a language is added by adding `Strings/<language>.json` with the same keys (a test checks).
package struct Catalogues: Sendable {
    static let fallback = "en"
    let byLanguage: [String: [String: String]]

    /// The catalogues shipped in the binary (a test reads every one and checks its keys).
    package static let shipped = (try? Catalogues()) ?? Catalogues(byLanguage: [:])

    init(byLanguage: [String: [String: String]]) { self.byLanguage = byLanguage }

    init() throws {
        byLanguage = ["en": try JSONDecoder().decode([String: String].self, from: Data(PackageResources.en_json))]
    }

    /// A catalogue string (`template`) with each `{word}` replaced by its value, in one pass: a value is never read again, so
    /// a name like `{link}` stays as typed.
    package static func fill(_ template: String, with words: [String: String]) -> String {
        var result = ""
        var rest = template[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            result += rest[..<open]
            let word = String(rest[rest.index(after: open)..<close])
            result += words[word] ?? "{\(word)}"
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    package func strings(_ language: String) -> [String: String] { byLanguage[language] ?? byLanguage[Self.fallback] ?? [:] }

    /// Whether the fallback language has words for `key` (every shipped language has the same keys).
    package func has(_ key: String) -> Bool { strings(Self.fallback)[key] != nil }

    /// The best shipped language for an `Accept-Language` header, else English.
    package func language(for header: String?) -> String {
        guard let header else { return Self.fallback }
        for tag in AcceptLanguage.ranked(header) {
            if byLanguage[tag] != nil { return tag }
            if let primary = tag.split(separator: "-").first.map(String.init), byLanguage[primary] != nil { return primary }
        }
        return Self.fallback
    }
}

/// `Accept-Language` (RFC 9110 §12.5.4): language ranges by falling quality, `q=0` dropped. Reads at
/// most 1 KiB and 32 ranges; anything malformed is skipped.
package enum AcceptLanguage {
    static func ranked(_ header: String) -> [String] {
        var ranges: [(tag: String, quality: Double, index: Int)] = []
        for (index, item) in header.utf8.prefix(1024).split(separator: UInt8(ascii: ",")).prefix(32).enumerated() {
            let parts = item.split(separator: UInt8(ascii: ";"))
            guard let first = parts.first else { continue }
            let tag = String(decoding: first, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
            guard !tag.isEmpty, tag.utf8.count <= 35,
                tag.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "*") || isAlphanumeric($0) })
            else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let text = String(decoding: parameter, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
                if text.hasPrefix("q="), let value = Double(text.dropFirst(2)), (0...1).contains(value) { quality = value }
            }
            if quality > 0 { ranges.append((tag, quality, index)) }
        }
        return ranges.sorted { $0.quality != $1.quality ? $0.quality > $1.quality : $0.index < $1.index }.map(\.tag)
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
