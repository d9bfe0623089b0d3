import TestSupport
import Testing

@testable import S3Protocol

/// The listing documents are written by hand for speed (`ListingXML`); XMLCoder, through the same
/// types' Codable conformances, is the reference they must match byte for byte.
@Suite struct ListingXMLTests {

    /// Text with every character XML escapes, spaces, multi-byte characters and plain letters.
    static func text(_ random: inout SplitMix, maxLength: Int = 12) -> String {
        let alphabet: [Character] = ["a", "Z", "0", "/", " ", "&", "<", ">", "'", "\"", ";", "é", "日", "🩺", "%", "+", "\t"]
        return String((0..<Int.random(in: 0...maxLength, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
    }

    static func optionalText(_ random: inout SplitMix) -> String? {
        Bool.random(using: &random) ? text(&random) : nil
    }

    static func objects(_ random: inout SplitMix) -> [ListedObject] {
        (0..<Int.random(in: 0...20, using: &random)).map { _ in
            ListedObject(
                key: text(&random, maxLength: 40), lastModified: "2026-11-30T08:00:00.123Z", eTag: "\"\(text(&random))\"",
                size: Int64.random(in: 0...(5 << 40), using: &random),
                owner: Bool.random(using: &random) ? Owner(id: text(&random), displayName: text(&random)) : nil)
        }
    }

    static func prefixes(_ random: inout SplitMix) -> [CommonPrefix] {
        (0..<Int.random(in: 0...5, using: &random)).map { _ in CommonPrefix(prefix: text(&random)) }
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func listObjectsV2MatchesXMLCoder(seed: UInt64) {
        var random = SplitMix(state: seed)
        let result = ListBucketResultV2(
            name: Self.text(&random), prefix: Self.text(&random), maxKeys: Int.random(in: 0...1000, using: &random),
            keyCount: Int.random(in: 0...1000, using: &random), delimiter: Self.optionalText(&random),
            isTruncated: Bool.random(using: &random), continuationToken: Self.optionalText(&random),
            nextContinuationToken: Self.optionalText(&random), startAfter: Self.optionalText(&random),
            encodingType: Self.optionalText(&random), contents: Self.objects(&random), commonPrefixes: Self.prefixes(&random))
        #expect(result.xml() == S3XML.encode(result, rootKey: "ListBucketResult"))
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func listObjectsV1MatchesXMLCoder(seed: UInt64) {
        var random = SplitMix(state: seed)
        let result = ListBucketResultV1(
            name: Self.text(&random), prefix: Self.text(&random), marker: Self.text(&random), nextMarker: Self.optionalText(&random),
            maxKeys: Int.random(in: 0...1000, using: &random), delimiter: Self.optionalText(&random),
            isTruncated: Bool.random(using: &random), encodingType: Self.optionalText(&random), contents: Self.objects(&random),
            commonPrefixes: Self.prefixes(&random))
        #expect(result.xml() == S3XML.encode(result, rootKey: "ListBucketResult"))
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func listObjectVersionsMatchesXMLCoder(seed: UInt64) {
        var random = SplitMix(state: seed)
        let result = ListVersionsResult(
            name: Self.text(&random), prefix: Self.text(&random), keyMarker: Self.text(&random), versionIdMarker: Self.text(&random),
            nextKeyMarker: Self.optionalText(&random), maxKeys: Int.random(in: 0...1000, using: &random),
            delimiter: Self.optionalText(&random), isTruncated: Bool.random(using: &random),
            encodingType: Self.optionalText(&random), versions: Self.objects(&random).map { ListedVersion(object: $0) },
            commonPrefixes: Self.prefixes(&random))
        #expect(result.xml() == S3XML.encode(result, rootKey: "ListVersionsResult"))
    }
}
