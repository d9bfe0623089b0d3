import ArgumentParser
import ChunkChain
import Foundation
import Hospital
import HospitalCore
import Settings

/// `chainvault hospital add-admin | add-doctor`: the first staff accounts, before anyone can log in;
/// `chainvault hospital migrate`: the hospital moved between SQLite and PostgreSQL.
struct HospitalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hospital",
        abstract: "Manage hospital accounts from the command line.",
        subcommands: [AddAdmin.self, AddDoctor.self, Migrate.self]
    )

    /// The accounts of a hospital's storage.
    static func accounts(_ storage: any HospitalStorage) -> Accounts {
        Accounts(storage: storage, hasher: PasswordHasher(random: systemRandom), clock: { now() }, random: systemRandom)
    }

    struct AddAdmin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-admin", abstract: "Create an admin account; the password is read from standard input.")
        @OptionGroup var staff: StaffOptions

        func run() async throws { try await staff.create(role: .admin) }
    }

    struct AddDoctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-doctor", abstract: "Create a doctor account; the password is read from standard input.")
        @OptionGroup var staff: StaffOptions
        @Option(help: "The doctor's specialization, as patients search for it.")
        var specialization: String

        func run() async throws { try await staff.create(role: .doctor, specialization: specialization) }
    }
}

/// What every staff account command takes: the data root, the name and the e-mail address.
struct StaffOptions: ParsableArguments {
    @OptionGroup var root: DataRootOptions
    @OptionGroup(title: "Hospital database") var database: DatabaseOptions
    @Option(help: "The person's name.")
    var name: String
    @Argument(help: "The e-mail address (the login).")
    var email: String

    /// Creates the account with the password from the first line of standard input (never from the
    /// command line, where other users of the machine could read it).
    func create(role: Role, specialization: String? = nil) async throws {
        guard let password = Swift.readLine(strippingNewline: true), !password.isEmpty else {
            throw ValidationError("Give the password on standard input, e.g. printf '%s\\n' \"$PASSWORD\" | chainvault hospital ...")
        }
        do {
            let staff = Accounts.StaffRegistration(role: role, name: name, email: email, password: password, specialization: specialization)
            let user = try await database.withStorage(root: try DataRoot.create(root.data), creating: true) { storage in
                try await HospitalCommand.accounts(storage).createStaff(staff)
            }
            output("created \(user.role.rawValue) \(user.email) (id \(user.id ?? 0))")
        } catch let error as HospitalError {
            throw ValidationError("\(error.message)\(error.field.map { " (\($0))" } ?? "")")
        }
    }
}
