import HospitalCore

/// The hospital's parsers of ledger bytes, for the fuzz package: the hospital's modules declare
/// nothing `public` (they are `package` to this repository's targets), so the fuzz targets reach
/// these through here.
public enum LedgerParsers {
    /// The fields of a ledger entry's canonical encoding after its tag, or nil
    /// (``AuditEntry/canonicalFields(decoding:)``).
    public static func entryFields(decoding bytes: [UInt8]) -> [String]? { AuditEntry.canonicalFields(decoding: bytes) }

    /// A saved e-mail's text with its quoted-printable body decoded (``Mail/decodedText(_:)``).
    public static func mailText(_ message: String) -> String { Mail.decodedText(message) }

    /// How a checkpoint file's bytes split into whole records and a torn tail, or nil when they are
    /// damaged (``CheckpointLog/parse(_:path:)``).
    public static func checkpointFile(_ bytes: [UInt8]) -> (validLength: Int, tornBytes: Int)? {
        guard let contents = try? CheckpointLog.parse(bytes, path: "fuzz") else { return nil }
        return (contents.validLength, contents.tornBytes)
    }
}
