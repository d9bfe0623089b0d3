import Foundation
import HospitalAPI
import HospitalCore
import NIOCore

/// A `multipart/form-data` body (RFC 7578) read as it arrives, so that a file part streams into its
/// chain without the body ever being held whole: at most one network read plus a delimiter's length is
/// buffered. Fields before the file, headers and the preamble are small and bounded.
///
/// Written here rather than taken from multipart-kit 4.7.1, whose parser traps on a header-name byte
/// above 0x7F (an index out of range: one upload took the server down; found by FuzzPortal).
final class MultipartFormReader<Base: AsyncIteratorProtocol> where Base.Element == ByteBuffer {
    /// What the reader found next.
    enum Event {
        /// A field that is not a file, whole.
        case field(name: String, value: String)
        /// A file part begins: its field name, the file name the browser sent, its media type.
        case file(name: String, filename: String, contentType: String?)
        /// The next bytes of the current file.
        case bytes(ByteBuffer)
        /// The current file ended.
        case fileEnd
        /// The body ended.
        case end
    }

    enum Failure: Error {
        /// Not multipart, a syntax error, or the body ended inside a part.
        case malformed
        /// More fields, headers or preamble, or larger ones, than a portal form has.
        case tooLarge
    }

    /// Bytes of preamble and part headers a body may hold in all.
    static var maxOverhead: Int { 64 << 10 }
    /// Fields a form may have besides its file, and the bytes of each.
    static var maxFields: Int { 16 }
    static var maxFieldBytes: Int { 8 << 10 }
    /// Header lines of one part.
    static var maxHeaders: Int { 8 }

    private enum State { case preamble, afterBoundary, headers, body, epilogue }

    private var base: Base
    /// `CRLF--boundary`: what ends every part.
    private let delimiter: [UInt8]
    private var state = State.preamble
    /// Bytes read but not yet consumed; never more than one read plus a delimiter's length.
    private var buffer: [UInt8]
    private var pending: [Event] = []
    private var headers: [(name: String, value: String)] = []
    private var part: (isFile: Bool, name: String, value: [UInt8])?
    private var overhead = 0
    private var fields = 0
    /// The closing boundary was read (or the body ended after it).
    private var finished = false

    /// - Parameter boundary: From the request's `Content-Type` (``boundary(contentType:)``).
    init(_ base: Base, boundary: String) {
        self.base = base
        self.delimiter = Array("\r\n--\(boundary)".utf8)
        // The first boundary may open the body without a line break before it.
        self.buffer = [0x0D, 0x0A]
    }

    /// The boundary of a `multipart/form-data` content type: 1 to 70 characters (RFC 2046), quoted or not.
    static func boundary(contentType: String?) -> String? {
        guard let contentType else { return nil }
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() where part.lowercased().hasPrefix("boundary=") {
            var value = String(part.dropFirst("boundary=".count))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard (1...70).contains(value.utf8.count), value.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0 != "\"" })
            else { return nil }
            return value
        }
        return nil
    }

    /// The next event, reading the body as far as needed.
    func next() async throws -> Event {
        while pending.isEmpty {
            guard !finished else { return .end }
            if let chunk = try await base.next() {
                buffer.append(contentsOf: chunk.readableBytesView)
                try process()
            } else {
                // A body that stops inside a part is cut short, not a form.
                guard state == .epilogue else { throw Failure.malformed }
                finished = true
            }
        }
        return pending.removeFirst()
    }

    /// Consumes what `buffer` holds as far as it can, queueing events.
    private func process() throws {
        var index = 0
        defer { buffer.removeFirst(index) }
        while true {
            switch state {
            case .preamble:
                guard let found = Self.find(delimiter, in: buffer, from: index) else {
                    let keep = max(index, buffer.count - (delimiter.count - 1))
                    try count(keep - index)
                    index = keep
                    return
                }
                try count(found + delimiter.count - index)
                index = found + delimiter.count
                state = .afterBoundary
            case .afterBoundary:
                guard buffer.count - index >= 2 else { return }
                switch (buffer[index], buffer[index + 1]) {
                case (0x2D, 0x2D):
                    // The closing boundary: nothing after it matters, and it is not read.
                    state = .epilogue
                    finished = true
                    index = buffer.count
                    return
                case (0x0D, 0x0A):
                    index += 2
                    headers = []
                    state = .headers
                default:
                    throw Failure.malformed
                }
            case .headers:
                guard let end = Self.find([0x0D, 0x0A], in: buffer, from: index) else {
                    if buffer.count - index > Self.maxFieldBytes { throw Failure.tooLarge }
                    return
                }
                let line = buffer[index..<end]
                try count(end + 2 - index)
                index = end + 2
                if line.isEmpty {
                    try startPart()
                    state = .body
                } else {
                    try header(line)
                }
            case .body:
                if let found = Self.find(delimiter, in: buffer, from: index) {
                    try body(buffer[index..<found])
                    index = found + delimiter.count
                    partComplete()
                    state = .afterBoundary
                } else {
                    let keep = max(index, buffer.count - (delimiter.count - 1))
                    try body(buffer[index..<keep])
                    index = keep
                    return
                }
            case .epilogue:
                index = buffer.count
                return
            }
        }
    }

    /// Counts preamble and header bytes against ``maxOverhead``.
    private func count(_ bytes: Int) throws {
        overhead += bytes
        if overhead > Self.maxOverhead { throw Failure.tooLarge }
    }

    /// One `Name: value` header line of a part.
    private func header(_ line: ArraySlice<UInt8>) throws {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
            line[..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw Failure.malformed }
        headers.append(
            (
                String(decoding: line[..<colon], as: UTF8.self).lowercased(),
                String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            ))
        if headers.count > Self.maxHeaders { throw Failure.tooLarge }
    }

    private func startPart() throws {
        let disposition = headers.first { $0.name == "content-disposition" }?.value ?? ""
        let parameters = Self.parameters(disposition)
        let name = parameters["name"] ?? ""
        if let filename = parameters["filename"] {
            part = (true, name, [])
            pending.append(.file(name: name, filename: filename, contentType: headers.first { $0.name == "content-type" }?.value))
        } else {
            fields += 1
            if fields > Self.maxFields { throw Failure.tooLarge }
            part = (false, name, [])
        }
    }

    private func body(_ bytes: ArraySlice<UInt8>) throws {
        guard !bytes.isEmpty, let current = part else { return }
        if current.isFile {
            pending.append(.bytes(ByteBuffer(bytes: bytes)))
        } else {
            guard current.value.count + bytes.count <= Self.maxFieldBytes else { throw Failure.tooLarge }
            part?.value.append(contentsOf: bytes)
        }
    }

    private func partComplete() {
        guard let current = part else { return }
        pending.append(current.isFile ? .fileEnd : .field(name: current.name, value: String(decoding: current.value, as: UTF8.self)))
        part = nil
    }

    /// The first index at or after `start` where `needle` occurs in `haystack`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, haystack.count - start >= needle.count else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            guard let candidate = haystack[index...last].firstIndex(of: first) else { return nil }
            if haystack[candidate..<(candidate + needle.count)].elementsEqual(needle) { return candidate }
            index = candidate + 1
        }
        return nil
    }

    /// The parameters of a `Content-Disposition: form-data; name="x"; filename="y"` header; the first of
    /// a repeated name counts.
    static func parameters(_ header: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(header)
        while let semicolon = rest.firstIndex(of: ";") {
            rest = rest[rest.index(after: semicolon)...].drop { $0 == " " || $0 == "\t" }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                // Browsers write `"` as %22 and never escape a backslash (HTML's form-data encoding), and
                // old ones send a whole Windows path: a backslash is a character here.
                rest = rest.dropFirst()
                let end = rest.firstIndex(of: "\"") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...].dropFirst()
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            if result[key] == nil { result[key] = value }
        }
        return result
    }
}

/// The bytes of the file part a ``MultipartFormReader`` is in, as an async sequence for the chain writer.
struct MultipartFileBytes<Base: AsyncIteratorProtocol>: AsyncSequence where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let reader: MultipartFormReader<Base>
    /// Bytes read before the sequence was made (to refuse an empty file before anything is stored).
    let first: ByteBuffer?

    struct AsyncIterator: AsyncIteratorProtocol {
        let reader: MultipartFormReader<Base>
        var first: ByteBuffer?

        mutating func next() async throws -> ByteBuffer? {
            if let buffer = first {
                first = nil
                return buffer
            }
            switch try await reader.next() {
            case .bytes(let buffer): return buffer
            case .fileEnd, .end: return nil
            case .field, .file: throw MultipartFormReader<Base>.Failure.malformed
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader, first: first) }
}
