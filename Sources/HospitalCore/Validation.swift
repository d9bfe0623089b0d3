import Foundation

/// The rules for what clients send; each failure names its field.
package enum Validation {
    static let maxEmailBytes = 254
    static let maxPasswordBytes = 256

    /// Passwords refused whatever their length: the most common ones in public breach lists.
    static let commonPasswords: Set<String> = [
        "password", "password1", "password12", "password123", "password1234", "12345678", "123456789", "1234567890",
        "12345678910", "qwertyuiop", "qwerty123", "qwerty12", "1q2w3e4r", "1q2w3e4r5t", "1qaz2wsx", "zaq12wsx", "iloveyou",
        "iloveyou1", "sunshine", "princess", "football", "baseball", "welcome1", "welcome123", "admin123", "administrator",
        "letmein1", "letmein123", "abc12345", "abcd1234", "aa123456", "11111111", "00000000", "88888888", "87654321",
        "asdfghjkl", "asdf1234", "superman", "starwars", "dragon12", "master12", "monkey12", "trustno1", "passw0rd",
        "p@ssw0rd", "p@ssword", "changeme", "changeme1", "hospital", "hospital1", "patient1", "doctor12", "computer",
        "internet", "whatever", "qwertyui", "michael1", "jennifer", "shadow12", "charlie1", "liverpool", "chelsea1",
        "basketball", "babygirl", "lovely12", "123123123", "12341234", "1234qwer", "qwer1234", "secret12", "default1",
    ]

    /// The most Unicode scalars one character (grapheme cluster) of a name, title or reason may hold: a
    /// family emoji has 7, an Indic conjunct a handful; a letter with 5 000 combining marks counts as one
    /// character but is kilobytes of text a page must draw.
    static let maxScalarsPerCharacter = 16

    /// Whether `text` has at most `characters` characters, at most 4 bytes of UTF-8 per allowed character,
    /// and no character of more than ``maxScalarsPerCharacter`` scalars: bounded by what a person reads and
    /// by what the server stores.
    static func isBounded(_ text: String, characters: Int) -> Bool {
        text.utf8.count <= 4 * characters && text.count <= characters
            && !text.contains { $0.unicodeScalars.count > maxScalarsPerCharacter }
    }

    static func name(_ value: String) throws(HospitalError) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, isBounded(trimmed, characters: 200) else {
            throw .invalid("name", "A name has 1 to 200 characters (at most 800 bytes).")
        }
        guard !trimmed.unicodeScalars.contains(where: isForbiddenInText) else {
            throw .invalid("name", "A name holds no control characters.")
        }
        return trimmed
    }

    /// What no name or title may hold: control characters (C0, C1), line and paragraph separators, and
    /// the bidirectional overrides and isolates that make text display in another order than it is
    /// stored. Other format characters are letters' business: the zero-width joiner and non-joiner
    /// are part of Persian and Indic names.
    static func isForbiddenInText(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: return true
        default: break
        }
        return scalar.value == 0x061C || scalar.value == 0x200E || scalar.value == 0x200F || (0x202A...0x202E).contains(scalar.value)
            || (0x2066...0x2069).contains(scalar.value)
    }

    /// What the local part of an address may hold: the WHATWG "valid e-mail address" (what a browser's
    /// `type=email` field accepts, a subset of RFC 5322's dot-atom): no `<`, `>`, `,`, quotes, spaces or
    /// `@`, which could otherwise add recipients to a mail's `To:` line.
    static let localPartCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789.!#$%&'*+/=?^_`{|}~-".utf8)

    /// A domain label: letters, digits and `-`, 1 to 63 of them, not starting or ending with `-`.
    static func isLabel(_ label: Substring) -> Bool {
        guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
        return label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
    }

    /// An address in the WHATWG e-mail syntax whose domain has at least two labels, lower-cased.
    static func email(_ value: String) throws(HospitalError) -> String {
        let email = value.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.utf8.count <= maxEmailBytes, parts.count == 2, !parts[0].isEmpty,
            parts[0].utf8.allSatisfy(localPartCharacters.contains)
        else { throw .invalid("email", "An e-mail address looks like name@example.org (at most 254 characters).") }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy(isLabel) else {
            throw .invalid("email", "An e-mail address looks like name@example.org (at most 254 characters).")
        }
        return email
    }

    static func password(_ value: String, email: String) throws(HospitalError) {
        guard value.count >= 8 else { throw .invalid("password", "A password has at least 8 characters.") }
        // Eight spaces, "aaaaaaaa" or "abababab" are length without strength.
        guard Set(value.filter { !$0.isWhitespace }).count >= 3 else {
            throw .invalid("password", "A password needs at least 3 different characters besides spaces.")
        }
        guard value.utf8.count <= maxPasswordBytes else { throw .invalid("password", "A password has at most 256 bytes.") }
        let lowered = value.lowercased()
        guard !commonPasswords.contains(lowered), lowered != email, lowered != email.split(separator: "@").first.map(String.init)
        else { throw .invalid("password", "This password is too common or too close to the e-mail address; choose another.") }
    }

    /// `YYYY-MM-DD`, a real day, from 1900 up to today.
    static func dateOfBirth(_ value: String, now: Int64) throws(HospitalError) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        guard value.count == 10, let date = formatter.date(from: value), formatter.string(from: date) == value,
            date.timeIntervalSince1970 <= Double(now), value >= "1900-01-01"
        else { throw .invalid("dateOfBirth", "A date of birth is YYYY-MM-DD, a real day between 1900 and today.") }
        return value
    }

    static func phone(_ value: String) throws(HospitalError) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let allowed = CharacterSet(charactersIn: "0123456789+-() ")
        let digits = trimmed.filter(\.isNumber).count
        guard (5...32).contains(trimmed.count), digits >= 5, trimmed.unicodeScalars.allSatisfy(allowed.contains) else {
            throw .invalid("phone", "A phone number has 5 to 32 characters: digits, spaces, + - ( ).")
        }
        return trimmed
    }

    static func specialization(_ value: String?) throws(HospitalError) -> String {
        let trimmed = (value ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, isBounded(trimmed, characters: 100), !trimmed.unicodeScalars.contains(where: isForbiddenInText) else {
            throw .invalid("specialization", "A doctor has a specialization of 1 to 100 characters.")
        }
        return trimmed
    }

    /// Why a patient books (symptoms): at most 2000 characters, lines allowed, no other control
    /// characters; nil when empty.
    static func reason(_ value: String) throws(HospitalError) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\r\n", with: "\n")
        guard isBounded(trimmed, characters: 2000), !trimmed.unicodeScalars.contains(where: { $0 != "\n" && isForbiddenInText($0) }) else {
            throw .invalid("reason", "A reason has at most 2000 characters and no control characters.")
        }
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A doctor's public description: at most 600 characters, lines allowed, no other control characters;
    /// nil when empty.
    static func about(_ value: String) throws(HospitalError) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\r\n", with: "\n")
        guard isBounded(trimmed, characters: 600), !trimmed.unicodeScalars.contains(where: { $0 != "\n" && isForbiddenInText($0) }) else {
            throw .invalid("about", "A description has at most 600 characters and no control characters.")
        }
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A report title: 1 to 200 characters, no control characters (it goes into messages and file names).
    static func title(_ value: String) throws(HospitalError) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, isBounded(trimmed, characters: 200), !trimmed.unicodeScalars.contains(where: isForbiddenInText)
        else { throw .invalid("title", "A title has 1 to 200 characters and no control characters.") }
        return trimmed
    }

    /// A media type such as `application/pdf`, parameters allowed, at most 200 characters.
    static func contentType(_ value: String) throws(HospitalError) -> String {
        let token = CharacterSet(charactersIn: "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let essence = value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        let parts = essence.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        guard value.count <= 200, parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy(token.contains) }),
            !value.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) })
        else { throw .invalid("contentType", "The content type is a media type such as application/pdf.") }
        return value.trimmingCharacters(in: .whitespaces)
    }

    /// An RFC 3339 time with an offset (`2026-12-01T09:00:00Z`, `2026-12-01T10:00:00+01:00`, fractions allowed),
    /// as seconds since 1970.
    package static func time(_ value: String, field: String) throws(HospitalError) -> Int64 {
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard value.count <= 40, let date = plain.date(from: value) ?? fractional.date(from: value) else {
            throw .invalid(field, "A time is RFC 3339 with an offset, such as 2026-12-01T09:00:00Z.")
        }
        return Int64(date.timeIntervalSince1970.rounded(.down))
    }
}
