//! Generations of tag feeds. Tags are many and unknown in advance, so they
//! get no dense slot: a tag feed's generation is looked up here, and its
//! renders are ordinary entries of the cache, bounded by `max_bytes` with the
//! archives.
//!
//! Generations come from one clock. A write that touches tag T of language L
//! sets (L, T)'s generation to the next tick; a tag never touched has its
//! language's floor. The map holds only tags writes touched, and at most
//! [`MAX_TRACKED`] of them: past that it is cleared and every language's floor
//! moves to the clock, which retires every tag feed once (rare, and correct).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::urls::TagSlug;

/// The most (language, tag) generations kept apart from their language's floor.
const MAX_TRACKED: usize = 10_000;

pub(super) struct TagGenerations {
    state: Mutex<State>,
}

struct State {
    clock: u64,
    /// By language: the generation of every tag feed not in `touched`, or
    /// newer than its entry there.
    floors: Vec<u64>,
    touched: HashMap<(usize, TagSlug), u64>,
}

impl State {
    fn of(&self, lang: usize, tag: &TagSlug) -> u64 {
        let floor = self.floors.get(lang).copied().unwrap_or(0);
        self.touched
            .get(&(lang, *tag))
            .map_or(floor, |&g| g.max(floor))
    }
}

impl TagGenerations {
    pub fn new(langs: usize) -> Self {
        TagGenerations {
            state: Mutex::new(State {
                clock: 0,
                floors: vec![0; langs],
                touched: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current generation of tag `tag`'s feeds in language `lang`.
    pub fn of(&self, lang: usize, tag: &TagSlug) -> u64 {
        self.lock().of(lang, tag)
    }

    /// Retires the feeds of `tag` in `lang`; returns their old generation.
    pub fn bump(&self, lang: usize, tag: &TagSlug) -> u64 {
        let mut state = self.lock();
        let old = state.of(lang, tag);
        state.clock += 1;
        let now = state.clock;
        if state.touched.len() >= MAX_TRACKED && !state.touched.contains_key(&(lang, *tag)) {
            state.touched.clear();
            state.floors.iter_mut().for_each(|f| *f = now);
        } else {
            state.touched.insert((lang, *tag), now);
        }
        old
    }

    /// Retires every tag feed of `lang`.
    pub fn bump_lang(&self, lang: usize) {
        let mut state = self.lock();
        state.clock += 1;
        let now = state.clock;
        if let Some(floor) = state.floors.get_mut(lang) {
            *floor = now;
        }
        state.touched.retain(|(l, _), _| *l != lang);
    }

    /// Retires every tag feed.
    pub fn bump_all(&self) {
        let mut state = self.lock();
        state.clock += 1;
        let now = state.clock;
        state.floors.iter_mut().for_each(|f| *f = now);
        state.touched.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_retires_one_tag_of_one_language() {
        let tags = TagGenerations::new(2);
        let (a, b) = (TagSlug::of("a").unwrap(), TagSlug::of("b").unwrap());
        let before = [tags.of(0, &a), tags.of(0, &b), tags.of(1, &a)];
        assert_eq!(tags.bump(0, &a), before[0]);
        assert_ne!(tags.of(0, &a), before[0]);
        assert_eq!([tags.of(0, &b), tags.of(1, &a)], [before[1], before[2]]);
        let a0 = tags.of(0, &a);
        tags.bump_lang(1);
        assert_eq!(tags.of(0, &a), a0);
        assert_ne!(tags.of(1, &a), before[2]);
        let seen: Vec<u64> = [(0, a), (0, b), (1, a), (1, b)]
            .iter()
            .map(|(l, t)| tags.of(*l, t))
            .collect();
        tags.bump_all();
        for ((l, t), old) in [(0, a), (0, b), (1, a), (1, b)].iter().zip(seen) {
            assert!(tags.of(*l, t) > old);
        }
    }

    #[test]
    fn past_the_bound_every_tag_is_retired_and_none_goes_back() {
        let tags = TagGenerations::new(1);
        let first = TagSlug::of("first").unwrap();
        let quiet = TagSlug::of("quiet").unwrap();
        tags.bump(0, &first);
        let (first_gen, quiet_gen) = (tags.of(0, &first), tags.of(0, &quiet));
        for i in 0..MAX_TRACKED {
            tags.bump(0, &TagSlug::of(&format!("t{i}")).unwrap());
        }
        assert!(tags.of(0, &first) > first_gen);
        assert!(tags.of(0, &quiet) > quiet_gen);
    }
}
