import Foundation
import MultipartKit
import NIOCore

/// A `multipart/form-data` body read as it arrives (multipart-kit's parser), so that a file part
/// streams into its chain without the body ever being held whole. Fields before the file are small
/// and bounded; the file is handed on piece by piece.
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
        /// More fields, or larger ones, than a portal form has.
        case tooLarge
    }

    /// Bytes the body may hold before its file part begins (the fields and every part's headers).
    static var maxPreamble: Int { 64 << 10 }
    /// Fields a form may have besides its file.
    static var maxFields: Int { 16 }

    private var base: Base
    private let parser: MultipartParser
    private var pending: [Event] = []
    private var headers: [(name: String, value: String)] = []
    private var current: (isFile: Bool, name: String, value: [UInt8])?
    private var fields = 0
    private var preamble = 0
    private var inFile = false
    private var finished = false
    private var failure: Failure?

    /// - Parameter boundary: From the request's `Content-Type` (``boundary(contentType:)``).
    init(_ base: Base, boundary: String) {
        self.base = base
        self.parser = MultipartParser(boundary: boundary)
        parser.onHeader = { [unowned self] name, value in
            self.headers.append((name.lowercased(), value))
            if self.headers.count > 8 { self.failure = .tooLarge }
        }
        parser.onBody = { [unowned self] body in self.body(&body) }
        parser.onPartComplete = { [unowned self] in self.partComplete() }
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
            if let failure { throw failure }
            guard !finished else { return .end }
            guard let buffer = try await base.next() else {
                // A body that stops inside a part is cut short, not a form.
                guard current == nil, !inFile else { throw Failure.malformed }
                finished = true
                return .end
            }
            if !inFile {
                preamble += buffer.readableBytes
                if preamble > Self.maxPreamble, current?.isFile != true { throw Failure.tooLarge }
            }
            do {
                try parser.execute(buffer)
            } catch {
                throw Failure.malformed
            }
        }
        if let failure { throw failure }
        return pending.removeFirst()
    }

    private func startPart() {
        let disposition = headers.first { $0.name == "content-disposition" }?.value ?? ""
        let parameters = Self.parameters(disposition)
        let name = parameters["name"] ?? ""
        if let filename = parameters["filename"] {
            current = (true, name, [])
            inFile = true
            let type = headers.first { $0.name == "content-type" }?.value
            pending.append(.file(name: name, filename: filename, contentType: type))
        } else {
            fields += 1
            if fields > Self.maxFields { failure = .tooLarge }
            current = (false, name, [])
        }
    }

    private func body(_ body: inout ByteBuffer) {
        if current == nil { startPart() }
        guard let part = current else { return }
        if part.isFile {
            if body.readableBytes > 0 { pending.append(.bytes(body)) }
        } else {
            guard part.value.count + body.readableBytes <= 8192 else {
                failure = .tooLarge
                return
            }
            current?.value.append(contentsOf: body.readableBytesView)
        }
    }

    private func partComplete() {
        if current == nil { startPart() }
        if let part = current {
            if part.isFile {
                pending.append(.fileEnd)
                inFile = false
            } else {
                pending.append(.field(name: part.name, value: String(decoding: part.value, as: UTF8.self)))
            }
        }
        current = nil
        headers = []
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
