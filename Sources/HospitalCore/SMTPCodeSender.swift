import Foundation
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL

/// Where and how codes are mailed when SMTP is configured.
package struct SMTPConfiguration: Sendable {
    package enum Security: Sendable, Equatable {
        /// `smtps://`: TLS from the first byte (port 465 by default).
        case implicitTLS
        /// `smtp://`: upgraded with STARTTLS (port 587 by default); plain only to a relay on loopback
        /// that does not offer STARTTLS.
        case startTLS
    }

    package var host: String
    package var port: Int
    package var security: Security
    /// The envelope and header sender, such as `no-reply@hospital.example`.
    package var from: String
    /// The display name of the `From` header (the site's name), if any.
    package var fromName: String?
    package var username: String?
    package var password: String?
    /// PEM file of the CA certificates to trust instead of the system's.
    package var caFile: String?
    /// How long one delivery may take.
    package var timeout: Duration = .seconds(30)

    /// - Parameter url: `smtp://HOST[:PORT]` or `smtps://HOST[:PORT]`.
    /// - Throws: ``SMTPError/configuration(_:)`` naming what is wrong.
    package init(url: String, from: String, username: String? = nil, password: String? = nil, caFile: String? = nil) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "smtp" || scheme == "smtps", let host = components.host, !host.isEmpty,
            components.path.isEmpty || components.path == "/", components.user == nil
        else {
            throw SMTPError.configuration(
                "the SMTP URL is smtp://HOST[:PORT] or smtps://HOST[:PORT] (credentials go in their own settings)")
        }
        guard from.contains("@"), !from.unicodeScalars.contains(where: { $0.value < 0x21 || $0 == "<" || $0 == ">" }) else {
            throw SMTPError.configuration("the SMTP sender address is like no-reply@hospital.example")
        }
        guard (username == nil) == (password == nil) else { throw SMTPError.configuration("an SMTP user needs a password, and back") }
        self.host = host
        self.security = scheme == "smtps" ? .implicitTLS : .startTLS
        self.port = components.port ?? (scheme == "smtps" ? 465 : 587)
        self.from = from
        self.username = username
        self.password = password
        self.caFile = caFile
    }

    /// The name the certificate is checked against: none for an IP address (SNI takes names only;
    /// the certificate is then checked against the address connected to).
    var serverName: String? { host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host }

    var isLoopback: Bool { ["localhost", "127.0.0.1", "::1"].contains(host.lowercased()) || host.hasPrefix("127.") }
}

package enum SMTPError: Error, Equatable, CustomStringConvertible {
    case configuration(String)
    /// The server answered a command with an unexpected reply.
    case rejected(command: String, reply: String)
    /// The server offers no STARTTLS and is not on loopback: nothing is sent in clear text.
    case noTLS
    case timedOut
    case closed

    package var description: String {
        switch self {
        case .configuration(let message): "SMTP configuration: \(message)"
        case .rejected(let command, let reply): "the SMTP server refused \(command): \(reply)"
        case .noTLS: "the SMTP server offers no STARTTLS; codes are not sent in clear text beyond loopback"
        case .timedOut: "the SMTP server did not answer in time"
        case .closed: "the SMTP server closed the connection"
        }
    }
}

/// Mails each code to the patient through an SMTP server (RFC 5321): TLS first (implicit or
/// STARTTLS), then AUTH PLAIN when credentials are set, one message per connection. Failing delivery
/// throws, and the request is then void.
package struct SMTPCodeSender: CodeSender {
    package let configuration: SMTPConfiguration
    let tls: NIOSSLContext

    package init(configuration: SMTPConfiguration) throws {
        self.configuration = configuration
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile { tls.trustRoots = .file(caFile) }
        self.tls = try NIOSSLContext(configuration: tls)
    }

    package func deliver(_ mail: Mail) async throws {
        let configuration = self.configuration
        let text = mail.rendered(from: MailSender(name: configuration.fromName, address: configuration.from))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await deliver(text, to: mail.toAddress) }
            group.addTask {
                try await Task.sleep(for: configuration.timeout)
                throw SMTPError.timedOut
            }
            try await group.next()
            group.cancelAll()
        }
    }

    func deliver(_ text: String, to recipient: String) async throws {
        let configuration = self.configuration
        let tls = self.tls
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if configuration.security == .implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: configuration.serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            /// One reply, multi-line or not: its code and text.
            func reply() async throws -> (code: Int, text: [String]) {
                var text: [String] = []
                while let line = try await lines.next() {
                    let string = String(buffer: line)
                    guard string.count >= 3, let code = Int(string.prefix(3)) else {
                        throw SMTPError.rejected(command: "reply", reply: string)
                    }
                    text.append(String(string.dropFirst(4)))
                    if string.count == 3 || string[string.index(string.startIndex, offsetBy: 3)] == " " { return (code, text) }
                }
                throw SMTPError.closed
            }
            func command(_ line: String, expect: Int, shown: String? = nil) async throws -> [String] {
                try await outbound.write(ByteBuffer(string: line + "\r\n"))
                let answer = try await reply()
                guard answer.code == expect else {
                    throw SMTPError.rejected(command: shown ?? line, reply: "\(answer.code) \(answer.text.joined(separator: " "))")
                }
                return answer.text
            }
            let greeting = try await reply()
            guard greeting.code == 220 else { throw SMTPError.rejected(command: "connect", reply: "\(greeting.code)") }
            var extensions = try await command("EHLO chainvault", expect: 250)
            var secure = configuration.security == .implicitTLS
            if !secure {
                if extensions.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) {
                    _ = try await command("STARTTLS", expect: 220)
                    // TLS goes under the line decoder, on the channel's event loop.
                    let pipeline = channel.channel.pipeline
                    try await channel.channel.eventLoop.submit {
                        try pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: configuration.serverName), position: .first)
                    }.get()
                    extensions = try await command("EHLO chainvault", expect: 250)
                    secure = true
                } else if !configuration.isLoopback {
                    throw SMTPError.noTLS
                }
            }
            if let username = configuration.username, let password = configuration.password {
                let credentials = Data([0] + Array(username.utf8) + [0] + Array(password.utf8)).base64EncodedString()
                _ = try await command("AUTH PLAIN \(credentials)", expect: 235, shown: "AUTH PLAIN")
            }
            _ = try await command("MAIL FROM:<\(configuration.from)>", expect: 250)
            _ = try await command("RCPT TO:<\(recipient)>", expect: 250)
            _ = try await command("DATA", expect: 354)
            // Dot-stuffing (RFC 5321 4.5.2), then the end-of-data line.
            let body = text.split(separator: "\r\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
            _ = try await command(body + (body.hasSuffix("\r\n") ? "" : "\r\n") + ".", expect: 250, shown: "DATA")
            _ = try? await command("QUIT", expect: 221)
        }
    }
}
