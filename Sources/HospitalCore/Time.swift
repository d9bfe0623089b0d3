/// Times in the hospital: a span (a session's idle timeout, a code's lifetime, a throttle's window) is
/// a `Duration`; an instant is whole seconds since 1970 (`Int64`, what `clock` returns), the form the
/// database, the ledger's canonical encoding and the API's JSON hold. An instant moves by a span's
/// ``Swift/Duration/wholeSeconds``.
extension Duration {
    /// The span in whole seconds (fractions dropped), to add to or subtract from an instant.
    package var wholeSeconds: Int64 { components.seconds }
}
