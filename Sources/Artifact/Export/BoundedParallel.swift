/// The bounded-parallel loop of image resolution, file downloads and push requests: at
/// most `limit` tasks at once, every item tried, results in input order.
///
/// Why one helper: "start N, then one more as each finishes, keep the result by position" is
/// easy to get subtly wrong (an off-by-one start, results in completion order, a lost item);
/// the error reported first must be the first in manifest order, whatever finished first.
enum BoundedParallel {
  /// Runs `work` on each of `items`, at most `limit` at a time, and returns the outputs in the
  /// order of `items`.
  ///
  /// - Parameter finished: called on the calling task (not concurrently) as each item ends,
  ///   with its position and output: for progress counters.
  static func map<Item: Sendable, Output: Sendable>(
    _ items: [Item], limit: Int,
    finished: (Int, Output) -> Void = { _, _ in },
    work: @escaping @Sendable (Item) async -> Output
  ) async -> [Output] {
    var outputs = [Output?](repeating: nil, count: items.count)
    await withTaskGroup(of: (Int, Output).self) { group in
      var next = 0
      func start() {
        guard next < items.count else { return }
        let position = next
        let item = items[position]
        next += 1
        group.addTask { (position, await work(item)) }
      }
      for _ in 0..<max(1, limit) { start() }
      while let (position, output) = await group.next() {
        outputs[position] = output
        finished(position, output)
        start()
      }
    }
    // Every position was started and collected above.
    return outputs.compactMap { $0 }
  }
}
