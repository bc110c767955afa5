//! Sorting without the standard library's sort machinery: `slice::sort*` instantiates driftsort
//! and quicksort, several KB of wasm for every element type (50 KB in all before this module).
//! Every list drillgen sorts has at most a few hundred items, where an insertion sort is as quick
//! and costs a few hundred bytes. Stable: equal items keep their order.

pub fn sort_by<T>(items: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && less(&items[j], &items[j - 1]) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a) < key(b));
}

pub fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, |a, b| a < b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        sort_by_key(&mut v, |p| p.0);
        assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (3, 'a'), (3, 'c')]);
        let mut w = vec![5, 2, 9, 2];
        sort(&mut w);
        assert_eq!(w, [2, 2, 5, 9]);
        sort(&mut Vec::<u8>::new());
    }
}
