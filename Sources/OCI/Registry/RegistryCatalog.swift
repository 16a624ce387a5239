import Foundation

extension RegistryClient {
  /// The repositories the registry lists (`GET /v2/_catalog`, following `Link` pages), or
  /// nil when it will not say: no catalog right (Harbor wants an admin, token registries the
  /// `registry:catalog:*` scope), not implemented, or more than `maxPages` pages.
  ///
  /// Why a pusher asks: a repository that is not listed has no blob and no manifest
  /// (docker-registry lists every repository that has a blob linked), so a first push into
  /// an empty registry learns with one request what would otherwise take a HEAD per blob and
  /// per tag. A stale or partial listing only costs an upload of a blob the registry had.
  public func catalog(pageSize: Int = 1000, maxPages: Int = 5) async -> Set<String>? {
    var target = "/v2/_catalog?n=\(pageSize)"
    var names: Set<String> = []
    for _ in 0..<maxPages {
      guard
        let response = try? await perform(
          Call(
            method: "GET", target: target, scopes: ["registry:catalog:*"], bufferLimit: 8 << 20)
        ),
        response.status == 200,
        let page = try? JSONDecoder().decode(CatalogPage.self, from: Data(response.body)),
        let repositories = page.repositories
      else { return nil }
      names.formUnion(repositories)
      // `Link: </v2/_catalog?last=x&n=1000>; rel="next"`
      guard let link = response.headers["Link"] else { return names }
      guard let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"),
        open < close
      else { return nil }
      target = String(link[link.index(after: open)..<close])
    }
    return nil
  }
}

private struct CatalogPage: Decodable {
  var repositories: [String]?
}
