/// Every failure the OCI module reports. Messages name the thing at fault and what to do.
public enum OCIError: Error, Sendable, CustomStringConvertible {
    case invalidDigest(String, reason: String)

    public var description: String {
        switch self {
        case .invalidDigest(let value, let reason):
            return "invalid digest '\(value)': \(reason)"
        }
    }
}
