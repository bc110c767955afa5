//! How many positions of each phase each batch gets: every batch holds of every phase its
//! proportional share rounded down or up, and within those bounds the batches mix as many phases
//! as they can.
//!
//! Rounding a matrix whose rows and columns sum to whole numbers, cell by cell down or up, while
//! keeping those sums, is always possible (Bacharach 1966): the rounded-up cells are a flow. Among
//! the many roundings, a min-cost flow picks the one that gives batches phases they would lack
//! otherwise, first to batches with one phase, then two, then three. Batches of the same size are
//! alike, so the flow runs over sizes (at most a few) and each size's cells are then dealt to its
//! batches in turn: the graph has a few dozen edges, whatever the series.

/// `rows[b]` positions for batch `b`, `cols[p]` for phase `p` (both summing to the same total):
/// `grid[b][p]`, each `rows[b] * cols[p] / total` rounded down or up.
pub fn spread(rows: &[usize], cols: &[usize]) -> Vec<Vec<usize>> {
    let total: usize = rows.iter().sum();
    let floor = |r: usize, p: usize| (r * cols[p]).checked_div(total).unwrap_or(0);
    let fractional = |r: usize, p: usize| total > 0 && (r * cols[p]) % total != 0;
    let mut grid: Vec<Vec<usize>> = rows
        .iter()
        .map(|&r| (0..cols.len()).map(|p| floor(r, p)).collect())
        .collect();
    let room: Vec<usize> = (0..cols.len())
        .map(|p| cols[p] - grid.iter().map(|row| row[p]).sum::<usize>())
        .collect();
    let sizes = sizes(rows);
    let mut net = Network::default();
    let (source, sink) = (net.node(), net.node());
    let phase_nodes: Vec<usize> = (0..cols.len()).map(|_| net.node()).collect();
    for (p, &node) in phase_nodes.iter().enumerate() {
        net.edge(node, sink, room[p], 0);
    }
    let mut dealt = Vec::new();
    for (size, batches) in &sizes {
        let count = batches.len();
        let extra = size - (0..cols.len()).map(|p| floor(*size, p)).sum::<usize>();
        let held = (0..cols.len()).filter(|&p| floor(*size, p) > 0).count();
        let (entry, new, old) = (net.node(), net.node(), net.node());
        net.edge(source, entry, extra * count, 0);
        net.edge(entry, old, extra * count, 0);
        // The k-th new phase of each batch is worth less than the one before (a concave gain).
        for k in 1..=extra {
            net.edge(entry, new, count, -gain(held + k));
        }
        let mut edges = Vec::new();
        for (p, &node) in phase_nodes.iter().enumerate() {
            if fractional(*size, p) {
                let from = if floor(*size, p) == 0 { new } else { old };
                edges.push((p, net.edge(from, node, count, 0), from == new));
            }
        }
        dealt.push((batches, edges));
    }
    net.min_cost_flow(source, sink);
    for (batches, mut edges) in dealt {
        // New phases first, so they spread one per batch before any batch gets a second.
        crate::order::sort_by_key(&mut edges, |&(_, _, new)| !new);
        let ups = edges
            .iter()
            .flat_map(|&(p, e, _)| std::iter::repeat_n(p, net.flow(e)));
        for (k, p) in ups.enumerate() {
            grid[batches[k % batches.len()]][p] += 1;
        }
    }
    grid
}

/// What the `k`-th phase of a batch is worth: more than any number of later ones in a series of
/// at most 500 batches.
fn gain(k: usize) -> i64 {
    1000i64.pow(4u32.saturating_sub(k as u32).min(4))
}

/// The batches of each size, in order.
fn sizes(rows: &[usize]) -> Vec<(usize, Vec<usize>)> {
    let mut sizes: Vec<(usize, Vec<usize>)> = Vec::new();
    for (b, &r) in rows.iter().enumerate() {
        match sizes.iter_mut().find(|(size, _)| *size == r) {
            Some((_, batches)) => batches.push(b),
            None => sizes.push((r, vec![b])),
        }
    }
    sizes
}

/// A flow network small enough for Bellman–Ford shortest paths.
#[derive(Default)]
struct Network {
    /// `(to, capacity left, cost)`; edge `e ^ 1` is the reverse of `e`.
    edges: Vec<(usize, usize, i64)>,
    out: Vec<Vec<usize>>,
}

impl Network {
    fn node(&mut self) -> usize {
        self.out.push(Vec::new());
        self.out.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize, capacity: usize, cost: i64) -> usize {
        self.out[from].push(self.edges.len());
        self.edges.push((to, capacity, cost));
        self.out[to].push(self.edges.len());
        self.edges.push((from, 0, -cost));
        self.edges.len() - 2
    }

    /// What edge `e` carries.
    fn flow(&self, e: usize) -> usize {
        self.edges[e ^ 1].1
    }

    /// Successive cheapest paths: a maximum flow of least cost (the network starts without a
    /// negative cycle, and cheapest augmentations never create one).
    fn min_cost_flow(&mut self, source: usize, sink: usize) {
        while let Some(path) = self.cheapest_path(source, sink) {
            let push = path.iter().map(|&e| self.edges[e].1).min().unwrap_or(0);
            for &e in &path {
                self.edges[e].1 -= push;
                self.edges[e ^ 1].1 += push;
            }
        }
    }

    /// The edges of a cheapest source → sink path with capacity left, by Bellman–Ford.
    fn cheapest_path(&self, source: usize, sink: usize) -> Option<Vec<usize>> {
        let mut dist: Vec<Option<i64>> = vec![None; self.out.len()];
        let mut via: Vec<Option<usize>> = vec![None; self.out.len()];
        dist[source] = Some(0);
        for _ in 0..self.out.len() {
            let mut changed = false;
            for (e, &(to, capacity, cost)) in self.edges.iter().enumerate() {
                let from = self.edges[e ^ 1].0;
                let Some(d) = dist[from].filter(|_| capacity > 0) else {
                    continue;
                };
                if dist[to].is_none_or(|t| d + cost < t) {
                    dist[to] = Some(d + cost);
                    via[to] = Some(e);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut path = Vec::new();
        let mut node = sink;
        while node != source {
            // A path never repeats a node; longer would mean a cycle, which cheapest paths exclude.
            if path.len() >= self.out.len() {
                return None;
            }
            let e = via[node]?;
            path.push(e);
            node = self.edges[e ^ 1].0;
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::spread;

    fn check(rows: &[usize], cols: &[usize]) -> Vec<Vec<usize>> {
        let grid = spread(rows, cols);
        let total: usize = rows.iter().sum();
        for (b, row) in grid.iter().enumerate() {
            assert_eq!(row.iter().sum::<usize>(), rows[b], "row {b} of {grid:?}");
            for (p, &cell) in row.iter().enumerate() {
                let (lo, hi) = (
                    rows[b] * cols[p] / total,
                    (rows[b] * cols[p]).div_ceil(total),
                );
                assert!((lo..=hi).contains(&cell), "cell {b},{p} of {grid:?}");
            }
        }
        for (p, &col) in cols.iter().enumerate() {
            assert_eq!(grid.iter().map(|r| r[p]).sum::<usize>(), col, "column {p}");
        }
        grid
    }

    #[test]
    fn shares_are_rounded_down_or_up_and_sums_kept() {
        check(&[5, 5, 5, 5, 5], &[9, 8, 8]);
        check(&[2, 2, 1], &[1, 1, 1, 2]);
        check(&[1; 7], &[3, 4]);
    }

    #[test]
    fn small_batches_still_mix_when_the_rounding_allows_it() {
        // 47 positions in 19 batches of 2 or 3: EARLY's share of a batch of 2 is 0.81 and
        // BEAROFF's 1.02, so a batch of two BEAROFF would be within bounds, yet every batch mixes.
        let rows: Vec<usize> = (0..19).map(|b| if b < 9 { 3 } else { 2 }).collect();
        let grid = check(&rows, &[4, 19, 24]);
        for row in &grid {
            assert!(row.iter().filter(|&&c| c > 0).count() >= 2, "{grid:?}");
        }
    }
}
