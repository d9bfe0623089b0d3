import Foundation
import Testing

@testable import S3Protocol

@Suite struct XMLShapeTests {
    struct Delete: Decodable {
        struct Object: Decodable {
            var key: String
            enum CodingKeys: String, CodingKey { case key = "Key" }
        }
        var objects: [Object]
        enum CodingKeys: String, CodingKey { case objects = "Object" }
    }

    @Test func ordinaryDocumentsPass() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment with <tags> -->
            <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object>\
            <Object><Key><![CDATA[<c>]]></Key></Object><Quiet attr='>'/></Delete>
            """
        try XMLShape.check(Array(body.utf8))
        let decoded = try S3XML.decode(Delete.self, from: Array(body.utf8))
        #expect(decoded.objects.map(\.key) == ["a&b", "<c>"])
    }

    @Test func deepNestingIsRefusedWithoutRecursion() {
        let depth = 200_000
        let body = Array(("<Delete>" + String(repeating: "<a>", count: depth) + String(repeating: "</a>", count: depth) + "</Delete>").utf8)
        #expect(throws: XMLShape.Problem.tooDeep) { try XMLShape.check(body) }
        #expect(throws: S3Error(.malformedXML)) { try S3XML.decode(Delete.self, from: body) }
    }

    @Test func theLimitIsInclusive() throws {
        let atLimit = String(repeating: "<a>", count: XMLShape.maxDepth) + String(repeating: "</a>", count: XMLShape.maxDepth)
        try XMLShape.check(Array(atLimit.utf8))
        #expect(throws: XMLShape.Problem.tooDeep) { try XMLShape.check(Array(("<a>" + atLimit + "</a>").utf8)) }
    }

    @Test(arguments: [
        "<!DOCTYPE Delete [<!ENTITY e \"x\">]><Delete/>",
        "<?xml version=\"1.0\"?><!DOCTYPE Delete SYSTEM \"file:///etc/passwd\"><Delete/>",
        "<Delete><!ENTITY e \"x\"></Delete>",
    ])
    func declarationsAreRefused(_ body: String) {
        #expect(throws: XMLShape.Problem.declaration) { try XMLShape.check(Array(body.utf8)) }
        #expect(throws: S3Error(.malformedXML)) { try S3XML.decode(Delete.self, from: Array(body.utf8)) }
    }

    @Test(arguments: ["<Delete", "<Delete><!-- open", "<a><![CDATA[x</a>", "</a>", "<?xml", "<a b=\"></a>"])
    func truncatedMarkupIsMalformed(_ body: String) {
        #expect(throws: XMLShape.Problem.malformed) { try XMLShape.check(Array(body.utf8)) }
    }

    /// What the toolchain's XML parser rejects must not reach it: it leaks on every rejection (FuzzXML).
    @Test(arguments: [
        "<a></b>", "<a><b></a></b>", "<a/><b/>", "text<a/>", "<a>&foo;</a>", "<a>&#0;</a>", "<a>&amp</a>", "<a>\u{01}</a>",
        "<a x='1' x='2'/>", "<a x=1/>", "<a>]]></a>", "<!-- a -- b --><a/>", "<a/><?xml version=\"1.0\"?>", "<1a/>", "",
    ])
    func whatTheParserWouldRejectIsRefusedFirst(_ body: String) {
        #expect(throws: XMLShape.Problem.malformed) { try XMLShape.check(Array(body.utf8)) }
    }

    /// Found by FuzzXML: FoundationXML reads a processing instruction without data through a null
    /// pointer, so one DeleteObjects body took the server down (SIGSEGV).
    @Test(arguments: ["<Delete><?x?><Object><Key>a</Key></Object></Delete>", "<?x?><Delete/>", "<Delete><?pi data?></Delete>"])
    func processingInstructionsAreRefused(_ body: String) {
        #expect(throws: XMLShape.Problem.malformed) { try XMLShape.check(Array(body.utf8)) }
        #expect(throws: S3Error(.malformedXML)) { try S3XML.decode(Delete.self, from: Array(body.utf8)) }
    }

    @Test(arguments: [
        "<Delete xmlns=\"http://other.example/\"/>", "<Delete xmlns:x=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>", "<x:Delete/>",
    ])
    func onlyTheS3NamespaceAndNoPrefixes(_ body: String) {
        #expect(throws: XMLShape.Problem.malformed) { try XMLShape.check(Array(body.utf8)) }
    }

    /// Found by FuzzXML: a name starting with a character XML allows only later in a name (a combining
    /// mark) makes the parser report an error, and leak.
    @Test(arguments: [
        "<CompleteMultipartUpload \u{031A}xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part/></CompleteMultipartUpload>",
        "<\u{0301}a/>", "<Délete/>", "<a é=\"1\"/>",
    ])
    func nonASCIINamesAreRefused(_ body: String) {
        #expect(throws: XMLShape.Problem.malformed) { try XMLShape.check(Array(body.utf8)) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: XMLShape.Problem.malformed) {
            try XMLShape.check(Array("<Error><Code>".utf8) + [0xAF] + Array("</Code></Error>".utf8))
        }
    }

    /// A body of `count` attributes, on one element or spread over elements of `perElement` each.
    static func attributes(_ count: Int, perElement: Int) -> [UInt8] {
        var body = "<Delete>"
        for start in stride(from: 0, to: count, by: perElement) {
            body += "<Object"
            for index in start..<min(start + perElement, count) { body += " a\(index)=\"\"" }
            body += "/>"
        }
        return Array((body + "</Delete>").utf8)
    }

    /// The work grows with the body, not with its square (N1: 150 000 attributes on one element cost ~45 s when
    /// every attribute was compared with every earlier one). Counted in steps, not timed.
    @Test func theWorkIsLinearInTheNumberOfAttributes() {
        let n = 10_000
        for perElement in [XMLShape.maxAttributes, n, 10 * n] {
            let small = XMLShape.steps(Self.attributes(n, perElement: perElement))
            let large = XMLShape.steps(Self.attributes(10 * n, perElement: perElement))
            #expect(large.steps <= 12 * small.steps, "per element \(perElement): \(small.steps) then \(large.steps) steps")
        }
        #expect(XMLShape.steps(Self.attributes(n, perElement: XMLShape.maxAttributes)).problem == nil)
    }

    @Test func anElementWithTooManyAttributesIsRefused() throws {
        try XMLShape.check(Self.attributes(XMLShape.maxAttributes, perElement: XMLShape.maxAttributes))
        #expect(throws: XMLShape.Problem.tooManyAttributes) {
            try XMLShape.check(Self.attributes(XMLShape.maxAttributes + 1, perElement: XMLShape.maxAttributes + 1))
        }
        // The body of N1 (150 000 empty attributes on one element, 1.5 MB): refused at the 17th.
        let hostile = Self.attributes(150_000, perElement: 150_000)
        #expect(XMLShape.steps(hostile).steps < 1_000)
        #expect(throws: S3Error(.malformedXML)) { try S3XML.decode(Delete.self, from: hostile) }
    }

    @Test(arguments: ["<a>&lt;&#60;&#x3C;&quot;&apos;&gt;&amp;</a>", "\u{FEFF}<a b=\"&amp;\" c='d'>é<b/></a>\n"])
    func wellFormedDocumentsPass(_ body: String) throws {
        try XMLShape.check(Array(body.utf8))
    }
}

@Suite struct DigitStringTests {
    @Test func signsAndSpacesAreNotNumbers() {
        #expect(Int64(decimalDigits: "600") == 600)
        #expect(Int64(decimalDigits: "+600") == nil)
        #expect(Int64(decimalDigits: "-1") == nil)
        #expect(Int64(decimalDigits: " 1") == nil)
        #expect(Int64(decimalDigits: "") == nil)
        #expect(Int64(decimalDigits: "99999999999999999999") == nil)
        #expect(Int(hexDigits: "1aF") == 0x1AF)
        #expect(Int(hexDigits: "+10") == nil)
    }
}
