import Foundation
import XMLCoder

/// Encodes S3 response bodies and decodes S3 request bodies (XMLCoder).
public enum S3XML {
    /// The S3 XML namespace.
    public static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
    /// The largest XML request body ChainVault reads (DeleteObjects with 1000 keys fits easily).
    public static let maxRequestBodySize = 2 * 1024 * 1024

    /// Encodes `value` as an XML document with `rootKey` as the root element.
    public static func encode<T: Encodable>(_ value: T, rootKey: String, namespaced: Bool = true) -> [UInt8] {
        let encoder = XMLEncoder()
        encoder.outputFormatting = []
        do {
            let data = try encoder.encode(
                value,
                withRootKey: rootKey,
                rootAttributes: namespaced ? ["xmlns": namespace] : nil,
                header: XMLHeader(version: 1.0, encoding: "UTF-8")
            )
            return Array(data)
        } catch {
            // Our wire types are plain structs of strings and numbers; encoding them cannot fail.
            preconditionFailure("encoding \(T.self) as XML failed: \(error)")
        }
    }

    /// Decodes a request body or a service's answer, with or without the S3 namespace.
    ///
    /// The body is first checked by ``XMLShape/check(_:maxDepth:)``: a document type declaration
    /// or nesting deeper than ``XMLShape/maxDepth`` is refused before the recursive decoder runs.
    /// - Throws: ``S3Error`` `MalformedXML` when the body is not the expected document.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(S3Error) -> T {
        do {
            try XMLShape.check(bytes)
        } catch {
            throw S3Error(.malformedXML)
        }
        let decoder = XMLDecoder()
        decoder.shouldProcessNamespaces = true
        do {
            return try decoder.decode(T.self, from: Data(bytes))
        } catch {
            throw S3Error(.malformedXML)
        }
    }
}
