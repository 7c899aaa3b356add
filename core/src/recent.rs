//! A small memory of SQL texts seen lately, each with what was found out about it:
//! applications submit a few texts over and over, and comparing a text with a few remembered
//! ones costs less than scanning it again.

/// Up to [`Recent::SLOTS`] texts and their findings; a new text replaces the oldest.
pub(crate) struct Recent<T> {
    /// The texts and what was found about each.
    entries: Vec<(Box<str>, T)>,
    /// The entry the next new text replaces once all are taken.
    next: usize,
}

impl<T> Default for Recent<T> {
    fn default() -> Recent<T> {
        Recent {
            entries: Vec::new(),
            next: 0,
        }
    }
}

impl<T: Copy> Recent<T> {
    /// Texts remembered.
    pub(crate) const SLOTS: usize = 16;
    /// Longer texts are not remembered (scanning them again is cheap next to running them).
    pub(crate) const MAX_LEN: usize = 1024;

    /// What was found about `sql`, if it is remembered.
    pub(crate) fn get(&self, sql: &str) -> Option<T> {
        self.entries
            .iter()
            .find(|(text, _)| **text == *sql)
            .map(|(_, found)| *found)
    }

    /// What `find` says about `sql`, found once and remembered.
    pub(crate) fn get_or_find(&mut self, sql: &str, find: impl FnOnce(&str) -> T) -> T {
        if let Some(found) = self.get(sql) {
            return found;
        }
        let found = find(sql);
        self.insert(sql, found);
        found
    }

    /// Remembers what was found about `sql`.
    pub(crate) fn insert(&mut self, sql: &str, found: T) {
        if sql.len() > Self::MAX_LEN {
            return;
        }
        if self.entries.len() < Self::SLOTS {
            self.entries.push((sql.into(), found));
        } else {
            self.entries[self.next] = (sql.into(), found);
            self.next = (self.next + 1) % Self::SLOTS;
        }
    }

    /// How many texts are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_text_makes_room_and_long_texts_are_not_kept() {
        let mut recent = Recent::default();
        for i in 0..40 {
            recent.insert(&format!("SELECT {i}"), i);
        }
        assert_eq!(recent.len(), Recent::<i32>::SLOTS);
        assert_eq!(recent.get("SELECT 39"), Some(39));
        assert_eq!(recent.get("SELECT 0"), None);
        let long = "x".repeat(Recent::<i32>::MAX_LEN + 1);
        assert_eq!(recent.get_or_find(&long, |_| 7), 7);
        assert_eq!(recent.get(&long), None);
        let mut scans = 0;
        for _ in 0..3 {
            recent.get_or_find("SELECT 'a'", |_| {
                scans += 1;
                1
            });
        }
        assert_eq!(scans, 1);
    }
}
