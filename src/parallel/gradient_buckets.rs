//! The bookkeeping of a gradient reduction that overlaps the backward pass (PyTorch DDP's
//! `Reducer`, `torch/csrc/distributed/c10d/reducer.cpp`): the flat gradient `[P]` is cut into
//! contiguous buckets, the variables report their gradients as the backward pass produces them,
//! and a bucket may be all-reduced once every variable that overlaps it has reported.
//!
//! Collectives on a process group are matched by their order, so every rank must launch the
//! buckets in one order whatever order its gradients arrive in: as DDP does, a bucket is
//! launched only when the buckets before it in the launch order are. The launch order is from
//! the end of the buffer to its start (see [`BucketTracker::new`]).
use anyhow::{bail, Result};
use std::ops::Range;

/// `[0, total)` cut into consecutive pieces of `bucket_elements` (the last one shorter): the
/// buckets of a flat gradient of `total` elements.
pub fn bucket_ranges(total: i64, bucket_elements: i64) -> Vec<Range<i64>> {
    let size = bucket_elements.max(1);
    (0..total.max(0)).step_by(usize::try_from(size).unwrap_or(usize::MAX)).map(|start| start..(start + size).min(total)).collect()
}

/// Which buckets are complete, and which may be launched, as variables report.
#[derive(Debug, Clone)]
pub struct BucketTracker {
    /// The buckets each variable overlaps (indices into the bucket list).
    buckets_of_variable: Vec<Range<usize>>,
    reported: Vec<bool>,
    /// Per bucket: variables overlapping it that have not reported yet.
    waiting: Vec<usize>,
    /// Buckets launched so far: the last `launched` buckets of the buffer.
    launched: usize,
}

impl BucketTracker {
    /// Variables occupying `variables` (element ranges of the flat buffer; empty ones overlap
    /// nothing) over `buckets` (from [`bucket_ranges`]).
    ///
    /// Buckets launch from the last to the first. The flat buffer orders variables by name, and
    /// a backward pass produces the gradients of the late names first (`structure_module`,
    /// the heads, then the Evoformer's blocks from the last). Measured on the tiny preset's
    /// training step (431 variables in 30 buckets): from the last, 6 buckets may leave after
    /// 60 of the 431 gradients and 9 before the last 20; from the first, none before 233.
    /// The names put the template and extra-MSA stacks (whose gradients come last) after the
    /// Evoformer's main blocks, which holds those blocks' buckets back; so from the second
    /// reduction on, [`super::overlapped_reduction`] lays the variables out in the order their
    /// gradients arrived (reversed, to suit this launch order), as DDP rebuilds its buckets
    /// after the first iteration.
    pub fn new(variables: &[Range<i64>], buckets: &[Range<i64>]) -> Self {
        let mut waiting = vec![0; buckets.len()];
        let buckets_of_variable: Vec<Range<usize>> = variables
            .iter()
            .map(|variable| {
                let first = buckets.partition_point(|bucket| bucket.end <= variable.start);
                let end = if variable.is_empty() { first } else { buckets.partition_point(|bucket| bucket.start < variable.end) };
                for count in &mut waiting[first..end.max(first)] {
                    *count += 1;
                }
                first..end.max(first)
            })
            .collect();
        Self { buckets_of_variable, reported: vec![false; variables.len()], waiting, launched: 0 }
    }

    pub fn bucket_count(&self) -> usize {
        self.waiting.len()
    }

    /// The next bucket in the launch order, if any is left.
    fn next_bucket(&self) -> Option<usize> {
        self.waiting.len().checked_sub(self.launched + 1)
    }

    /// Takes the buckets that may launch now, in launch order.
    fn take_launchable(&mut self) -> Vec<usize> {
        let mut ready = Vec::new();
        while let Some(bucket) = self.next_bucket().filter(|&bucket| self.waiting[bucket] == 0) {
            ready.push(bucket);
            self.launched += 1;
        }
        ready
    }

    /// Records that `variable`'s gradient is in place; returns the buckets to launch now, in
    /// order. A variable reports once: a second report (its bucket may have left already) is
    /// an error.
    pub fn report(&mut self, variable: usize) -> Result<Vec<usize>> {
        let Some(reported) = self.reported.get_mut(variable) else {
            bail!("gradient report for variable {variable}, but there are {}", self.reported.len());
        };
        if *reported {
            bail!("variable {variable} reported its gradient twice in one reduction (its backward pass ran in several parts)");
        }
        *reported = true;
        for bucket in self.buckets_of_variable[variable].clone() {
            self.waiting[bucket] -= 1;
        }
        Ok(self.take_launchable())
    }

    /// The variables that have not reported (a backward pass that did not reach them).
    pub fn unreported(&self) -> Vec<usize> {
        self.reported.iter().enumerate().filter(|(_, &done)| !done).map(|(variable, _)| variable).collect()
    }

    /// Marks every variable reported; returns the buckets not launched yet, in launch order.
    pub fn finish(&mut self) -> Vec<usize> {
        for variable in self.unreported() {
            self.reported[variable] = true;
            for bucket in self.buckets_of_variable[variable].clone() {
                self.waiting[bucket] -= 1;
            }
        }
        self.take_launchable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cut_the_buffer_into_consecutive_pieces() {
        assert_eq!(bucket_ranges(10, 4), [0..4, 4..8, 8..10]);
        assert_eq!(bucket_ranges(8, 4), [0..4, 4..8]);
        assert_eq!(bucket_ranges(3, 100), [0..3]);
        assert!(bucket_ranges(0, 4).is_empty());
        assert_eq!(bucket_ranges(2, 0), [0..1, 1..2], "at least one element a bucket");
    }

    /// Variables 0..3 at [0,3) [3,5) [5,10) over buckets [0,4) [4,8) [8,10): variable 1
    /// straddles buckets 0 and 1, variable 2 buckets 1 and 2.
    fn three_variables() -> BucketTracker {
        BucketTracker::new(&[0..3, 3..5, 5..10], &bucket_ranges(10, 4))
    }

    #[test]
    fn a_bucket_launches_when_every_overlapping_variable_has_reported() {
        let mut tracker = three_variables();
        assert_eq!(tracker.bucket_count(), 3);
        assert_eq!(tracker.report(2).unwrap(), [2], "bucket 2 holds only variable 2");
        assert_eq!(tracker.report(1).unwrap(), [1], "bucket 1: variables 1 and 2");
        assert_eq!(tracker.report(0).unwrap(), [0]);
        assert!(tracker.unreported().is_empty());
        assert!(tracker.finish().is_empty());
    }

    #[test]
    fn buckets_launch_in_order_from_the_last_whatever_order_gradients_arrive_in() {
        let mut tracker = three_variables();
        assert!(tracker.report(0).unwrap().is_empty(), "bucket 0 waits for variable 1");
        assert!(tracker.report(1).unwrap().is_empty(), "buckets 0 and 1 wait for bucket 2's launch");
        assert_eq!(tracker.report(2).unwrap(), [2, 1, 0]);
    }

    #[test]
    fn unreported_variables_count_at_the_end() {
        let mut tracker = three_variables();
        assert_eq!(tracker.report(2).unwrap(), [2]);
        assert_eq!(tracker.unreported(), [0, 1]);
        assert_eq!(tracker.finish(), [1, 0]);
        assert!(tracker.finish().is_empty(), "each bucket launches once");
    }

    #[test]
    fn a_second_report_or_an_unknown_variable_is_an_error() {
        let mut tracker = three_variables();
        tracker.report(2).unwrap();
        assert!(tracker.report(2).unwrap_err().to_string().contains("twice"));
        assert!(tracker.report(7).is_err());
    }

    #[test]
    fn empty_variables_and_a_variable_spanning_several_buckets() {
        let mut tracker = BucketTracker::new(&[0..0, 0..9, 9..9], &bucket_ranges(9, 2));
        assert_eq!(tracker.bucket_count(), 5);
        assert!(tracker.report(0).unwrap().is_empty());
        assert_eq!(tracker.report(1).unwrap(), [4, 3, 2, 1, 0]);
        assert!(tracker.report(2).unwrap().is_empty());
    }
}
