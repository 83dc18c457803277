//! Named, index-addressed random streams derived from the manifest's one seed.
//!
//! Every random draw of a run comes from `stream(seed, purpose, index)`: a ChaCha8 generator
//! (an algorithm whose output is fixed by its specification, so it does not change with crate
//! versions) keyed by the seed and positioned on its own stream for that purpose and index (the
//! batch number for trials and network noise). Draws are therefore a pure function of
//! `(seed, purpose, index)`: changing how often the loss is logged, generating batches ahead on
//! another thread, or resuming from a checkpoint never shifts any other draw.

use rand::SeedableRng;

/// The generator every plugin draws from.
pub type Rng = rand_chacha::ChaCha8Rng;

/// What a random stream is used for. The discriminant is part of the stream id: never reorder.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Purpose {
    /// Weight initialisation (index 0).
    Init = 1,
    /// Training trials (index = iteration).
    TrainTrials = 2,
    /// Recurrent noise during training (index = iteration).
    TrainNoise = 3,
    /// Recurrent noise of the loss/accuracy evaluations logged every `loss_epoch` (index = iteration).
    EvalNoise = 4,
    /// Trials of the final test batch and other held-out evaluations (index = evaluation number).
    TestTrials = 5,
    /// Recurrent noise of held-out evaluations (index = evaluation number).
    TestNoise = 6,
    /// Free for plugins and analyses (index chosen by the caller).
    User = 7,
    /// Trials of the curriculum / early-stopping checks (index = iteration).
    ValidationTrials = 8,
    /// Recurrent noise of those checks (index = iteration).
    ValidationNoise = 9,
}

/// The generator for `purpose` and `index` under `seed`.
pub fn stream(seed: u64, purpose: Purpose, index: u64) -> Rng {
    let mut rng = Rng::seed_from_u64(seed);
    rng.set_stream(((purpose as u64) << 56) | (index & ((1 << 56) - 1)));
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: u64 = stream(7, Purpose::TrainTrials, 3).random();
        let b: u64 = stream(7, Purpose::TrainTrials, 3).random();
        let c: u64 = stream(7, Purpose::TrainTrials, 4).random();
        let d: u64 = stream(7, Purpose::TrainNoise, 3).random();
        let e: u64 = stream(8, Purpose::TrainTrials, 3).random();
        assert_eq!(a, b);
        assert!(a != c && a != d && a != e);
    }

    #[test]
    fn chacha8_output_is_pinned() {
        // Guards the "version-stable algorithm" promise: if a dependency update changed the
        // generator, every saved manifest would stop reproducing its run.
        let v: u64 = rand::Rng::next_u64(&mut stream(0, Purpose::Init, 0));
        let again: u64 = rand::Rng::next_u64(&mut stream(0, Purpose::Init, 0));
        assert_eq!(v, again);
        assert_eq!(v, PINNED_FIRST_DRAW);
    }

    const PINNED_FIRST_DRAW: u64 = 11_366_878_960_547_222_557;
}
