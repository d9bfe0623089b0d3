import NIOCore
import Testing

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

@Suite struct MultipartFormReaderTests {
    struct Pieces: AsyncIteratorProtocol {
        var buffers: [ByteBuffer]
        mutating func next() async throws -> ByteBuffer? { buffers.isEmpty ? nil : buffers.removeFirst() }
    }

    /// Every event of `body` read in pieces of `size` bytes, file bytes joined.
    func read(_ body: [UInt8], pieces size: Int, boundary: String = "b0undary") async throws -> [String] {
        let buffers = stride(from: 0, to: body.count, by: size).map { ByteBuffer(bytes: body[$0..<min($0 + size, body.count)]) }
        let reader = MultipartFormReader(Pieces(buffers: buffers), boundary: boundary)
        var events: [String] = []
        var file: [UInt8] = []
        while true {
            switch try await reader.next() {
            case .field(let name, let value): events.append("field \(name)=\(value)")
            case .file(let name, let filename, let type): events.append("file \(name) \(filename) \(type ?? "-")")
            case .bytes(let buffer): file += buffer.readableBytesView
            case .fileEnd: events.append("bytes \(file.count) \(file.hashValue)")
            case .end: return events
            }
        }
    }

    @Test func piecesOfEverySizeGiveTheSameFieldsAndFile() async throws {
        // A file that holds CRs, LFs, dashes and most of the delimiter.
        let file = Array("a\r\n--b0undar\r\n--b0undarx\r\r\n-".utf8) + (0..<300).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let body = multipartForm(
            boundary: "b0undary", fields: [("form_token", "t0k"), ("title", "Blood test")], file: ("r.pdf", "application/pdf", file))
        let expected = try await read(Array(body.readableBytesView), pieces: 100_000)
        #expect(
            expected == [
                "field form_token=t0k", "field title=Blood test", "file file r.pdf application/pdf",
                "bytes \(file.count) \(file.hashValue)",
            ])
        for size in 1...80 {
            #expect(try await read(Array(body.readableBytesView), pieces: size) == expected, "pieces of \(size)")
        }
    }

    @Test func aHeaderNameByteAbove0x7FIsMalformedNotACrash() async throws {
        // multipart-kit 4.7.1 trapped on this (FuzzPortal).
        let body = Array("--b\r\nContent-\u{FF}osition: form-data; name=\"file\"; filename=\"r.pdf\"\r\n\r\nx\r\n--b--\r\n".utf8)
        await #expect(throws: MultipartFormReader<Pieces>.Failure.malformed) { try await read(body, pieces: 7, boundary: "b") }
    }

    @Test func truncatedOversizedAndEndlessBodiesAreRefused() async throws {
        let cut = Array("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue without end".utf8)
        await #expect(throws: MultipartFormReader<Pieces>.Failure.malformed) { try await read(cut, pieces: 5, boundary: "b") }
        let longHeader = Array(("--b\r\nX: " + String(repeating: "h", count: 70_000)).utf8)
        await #expect(throws: MultipartFormReader<Pieces>.Failure.tooLarge) { try await read(longHeader, pieces: 4096, boundary: "b") }
        let preamble = Array(String(repeating: "p", count: 70_000).utf8)
        await #expect(throws: MultipartFormReader<Pieces>.Failure.tooLarge) { try await read(preamble, pieces: 4096, boundary: "b") }
        let manyFields = Array(
            (String(repeating: "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n", count: 17) + "--b--").utf8)
        await #expect(throws: MultipartFormReader<Pieces>.Failure.tooLarge) { try await read(manyFields, pieces: 512, boundary: "b") }
        let bigField = Array(
            ("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + String(repeating: "v", count: 9000) + "\r\n--b--").utf8)
        await #expect(throws: MultipartFormReader<Pieces>.Failure.tooLarge) { try await read(bigField, pieces: 512, boundary: "b") }
    }

    @Test func contentDispositionParametersAsBrowsersWriteThem() {
        let parameters = MultipartFormReader<Pieces>.parameters("form-data; name=\"file\"; filename=\"C:\\scans\\a %22b%22.pdf\"; x=y")
        #expect(parameters == ["name": "file", "filename": "C:\\scans\\a %22b%22.pdf", "x": "y"])
        #expect(MultipartFormReader<Pieces>.boundary(contentType: "multipart/form-data; boundary=\"abc def\"") == "abc def")
        #expect(MultipartFormReader<Pieces>.boundary(contentType: "multipart/mixed; boundary=abc") == nil)
        #expect(MultipartFormReader<Pieces>.boundary(contentType: "multipart/form-data") == nil)
    }
}
