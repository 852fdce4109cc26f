/// The query engine over stored HAProxy logs.
///
/// This module grows with the logquery issue: reading, filters, aggregation and rendering.
public enum LogQuery {
    /// The product version printed by `logquery --version`.
    public static let version = "0.1.0"
}
