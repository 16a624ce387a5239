/// Stand-in for `OCI.Reference` until it lands on main: Docker's normalisation of an image
/// name (`calico/cni:v3.23.2` → `docker.io/calico/cni:v3.23.2`, `busybox` →
/// `docker.io/library/busybox:latest`), with tag and digest checks.
struct ImageProblem: Error {
    var message: String
}

func normaliseImage(_ raw: String) -> Result<String, ImageProblem> {
    var rest = Substring(raw)
    if raw.isEmpty { return .failure(ImageProblem(message: "empty image reference")) }
    if raw.contains(where: { $0.isWhitespace }) {
        return .failure(ImageProblem(message: "contains whitespace"))
    }
    var digest: Substring?
    if let at = rest.firstIndex(of: "@") {
        digest = rest[rest.index(after: at)...]
        rest = rest[..<at]
        guard let d = digest, parseSHA256(String(d)) != nil, d.hasPrefix("sha256:"),
            d.lowercased() == d
        else {
            return .failure(
                ImageProblem(message: "digest '\(digest ?? "")' is not sha256:<64 lower-case hex>"))
        }
    }
    var tag: Substring?
    if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
        tag = rest[rest.index(after: colon)...]
        rest = rest[..<colon]
        guard let t = tag, !t.isEmpty, t.count <= 128, t.first != "." && t.first != "-",
            t.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) })
        else { return .failure(ImageProblem(message: "invalid tag '\(tag ?? "")'")) }
    }
    var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    var domain = "docker.io"
    if components.count > 1,
        let first = components.first,
        first.contains(".") || first.contains(":") || first == "localhost"
            || first.lowercased() != first
    {
        domain = first
        components.removeFirst()
    }
    if domain == "index.docker.io" || domain == "registry-1.docker.io" { domain = "docker.io" }
    if domain == "docker.io" && components.count == 1 { components.insert("library", at: 0) }
    for component in components {
        guard !component.isEmpty else {
            return .failure(ImageProblem(message: "empty path component"))
        }
        guard
            component.allSatisfy({
                $0.isASCII && ($0.isLowercase || $0.isNumber || "._-".contains($0))
            }),
            let first = component.first, first.isLowercase || first.isNumber
        else {
            return .failure(
                ImageProblem(
                    message:
                        "repository '\(component)' must be lower-case letters, digits and . _ - separators"
                ))
        }
    }
    var result = domain + "/" + components.joined(separator: "/")
    if let tag { result += ":" + tag }
    if let digest { result += "@" + digest } else if tag == nil { result += ":latest" }
    return .success(result)
}
