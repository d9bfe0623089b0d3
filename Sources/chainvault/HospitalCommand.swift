import ArgumentParser
import ChunkChain
import Foundation
import Hospital

/// `chainvault hospital add-admin | add-doctor`: the first staff accounts, before anyone can log in.
struct HospitalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hospital",
        abstract: "Manage hospital accounts from the command line.",
        subcommands: [AddAdmin.self, AddDoctor.self]
    )

    /// The accounts of the hospital database in a data root (`<data>/.chainvault/hospital.sqlite`).
    static func accounts(data: String) throws -> Accounts {
        let database = try HospitalDatabase.open(path: try configDirectory(data) + "/hospital.sqlite")
        return Accounts(database: database, hasher: PasswordHasher(random: systemRandom), clock: { now() }, random: systemRandom)
    }

    /// The password, from the first line of standard input (never from the command line, where other
    /// users of the machine could read it).
    static func readPassword() throws -> String {
        guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("Give the password on standard input, e.g. printf '%s\\n' \"$PASSWORD\" | chainvault hospital ...")
        }
        return line
    }

    static func create(_ registration: Accounts.StaffRegistration, data: String) async throws {
        do {
            let user = try await accounts(data: data).createStaff(registration)
            output("created \(user.role.rawValue) \(user.email) (id \(user.id ?? 0))")
        } catch let error as HospitalError {
            throw ValidationError("\(error.message)\(error.field.map { " (\($0))" } ?? "")")
        }
    }

    struct AddAdmin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-admin", abstract: "Create an admin account; the password is read from standard input.")
        @Option(help: "Data root.")
        var data: String = environment("DATA") ?? "buckets"
        @Option(help: "The admin's name.")
        var name: String
        @Argument(help: "The admin's e-mail address (the login).")
        var email: String

        func run() async throws {
            try await HospitalCommand.create(
                .init(role: .admin, name: name, email: email, password: try HospitalCommand.readPassword()), data: data)
        }
    }

    struct AddDoctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-doctor", abstract: "Create a doctor account; the password is read from standard input.")
        @Option(help: "Data root.")
        var data: String = environment("DATA") ?? "buckets"
        @Option(help: "The doctor's name.")
        var name: String
        @Option(help: "The doctor's specialization, as patients search for it.")
        var specialization: String
        @Argument(help: "The doctor's e-mail address (the login).")
        var email: String

        func run() async throws {
            try await HospitalCommand.create(
                .init(
                    role: .doctor, name: name, email: email, password: try HospitalCommand.readPassword(), specialization: specialization),
                data: data)
        }
    }
}
