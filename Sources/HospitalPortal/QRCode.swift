import CQREncode
import HospitalAPI
import HospitalCore

/// A QR code (ISO/IEC 18004, drawn by Debian's libqrencode) as the pieces of an inline SVG: the portal
/// shows an authenticator's `otpauth://` link this way, for the app to scan. The drawing is a single path
/// of unit squares over a square of `size` modules (the 4-module quiet zone included), so the template
/// escapes it like any other value and the strict CSP needs nothing new.
struct QRCode: Sendable, Equatable {
    /// Modules per side, the quiet zone included.
    let size: Int
    /// SVG path data: one `M x y h1 v1 h-1 z` square per dark module, run-length joined along rows.
    let path: String
    /// The dark modules, row by row (for tests).
    let modules: [[Bool]]

    static let quietZone = 4

    /// The code of `text` at error-correction level M, in byte mode; nil when it does not fit a QR code
    /// (about 2 300 bytes at that level) or the library fails.
    init?(_ text: String) {
        guard let code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M) else { return nil }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        var modules: [[Bool]] = []
        for row in 0..<width {
            modules.append((0..<width).map { column in code.pointee.data[row * width + column] & 1 == 1 })
        }
        self.modules = modules
        size = width + 2 * Self.quietZone
        var path = ""
        for (row, line) in modules.enumerated() {
            var column = 0
            while column < width {
                guard line[column] else {
                    column += 1
                    continue
                }
                let start = column
                while column < width, line[column] { column += 1 }
                path += "M\(start + Self.quietZone) \(row + Self.quietZone)h\(column - start)v1h-\(column - start)z"
            }
        }
        self.path = path
    }
}
