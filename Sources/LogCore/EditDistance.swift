/// "Did you mean" for configuration words: the edit distance between two words, a swap of two neighbours counting
/// as one edit (`htplog`, `dontlognul`), and the nearest of a set.
public enum EditDistance {
    /// The known word nearest to `word`, when one is near enough to be a typo of it (a third of its length, at
    /// most three edits); ties go to the first in sorted order.
    public static func nearest(_ word: String, in candidates: Set<String>) -> String? {
        let w = Array(word.utf8)
        var best: (name: String, distance: Int)?
        for candidate in candidates.sorted() {
            let d = between(w, Array(candidate.utf8))
            if d < best?.distance ?? Int.max { best = (candidate, d) }
        }
        guard let best, best.distance <= max(1, min(3, w.count / 3)) else { return nil }
        return best.name
    }

    /// Levenshtein distance with adjacent transpositions (optimal string alignment).
    public static func between(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
