//! Room past the WAL's last frame. A commit that appends to the WAL file changes the
//! file's size, so its sync also commits file-system metadata (on ext4 a journal commit:
//! measured to halve a lone thread's commits per second). SQLite writes the WAL from its
//! start again after a checkpoint, so only commits past the file's largest size so far
//! append; the writer keeps some room past the last frame by writing zeros there, in
//! steps, so that most commits overwrite. The room grows with the WAL (from 64 KiB to
//! 1 MiB ahead), so a database that sees few writes keeps a small WAL file. Large batches
//! append: for them one metadata commit costs less than syncing zeros first. The zeros are
//! synced by the next commit, whose callers wait for them: each step writes at most
//! [`MAX_STEP`].

use rusqlite::Connection;

use crate::files;

/// Least room kept past the last frame, in bytes.
const MIN_ROOM: u64 = 64 * 1024;
/// Most room kept past the last frame, in bytes.
const MAX_ROOM: u64 = 1024 * 1024;
/// When the room runs short, the file is extended to this many rooms past the last frame,
/// [`MAX_STEP`] at a time.
const EXTEND_TO: u64 = 4;
/// Most zeros written at once: the commit that follows syncs them, 1 ms more at 250 MB/s
/// (a network-attached SSD). Measured on the demo's model of one (1.5 ms + 250 MB/s per
/// sync), durability full: 4 MiB at once made the slowest flush 15.4 ms and p99.9 19.4
/// ms from submit to durable; 256 KiB, 7.9 ms and 10.4 ms.
const MAX_STEP: u64 = 256 * 1024;
/// Room is made only after a batch that wrote at most this many bytes to the WAL (measured
/// here: the metadata commit of an append costs about 0.15 ms, what syncing 50 KiB more
/// costs at 340 MB/s).
const SMALL_BATCH: u64 = 64 * 1024;
/// The WAL header's size.
const WAL_HEADER: u64 = 32;
/// A WAL frame's header size.
const FRAME_HEADER: u64 = 24;

/// What the writer knows about its WAL file's size.
#[derive(Default)]
pub(super) struct WalRoom {
    /// The WAL file's size when last read or extended; 0 when unknown, `u64::MAX` after a
    /// failed extension.
    size: u64,
    /// The WAL's frame count at the latest commit, to see it restart.
    frames: u64,
    /// Bytes per frame (page size plus frame header); 0 when unknown.
    frame_bytes: u64,
}

impl WalRoom {
    /// Inside a write transaction, given the frame count after the latest commit and the
    /// largest WAL file SQLite keeps (`journal_size_limit`): extends the file when the room
    /// past its last frame runs short and the previous batch was small. A failure only
    /// costs the speed-up.
    pub(super) fn make_room(&mut self, conn: &Connection, frames: u64, limit: Option<u64>) {
        let written = frames.saturating_sub(self.frames);
        if frames < self.frames {
            // The WAL restarted (perhaps truncated): read its size again.
            self.size = 0;
        }
        self.frames = frames;
        if self.frame_bytes == 0 {
            let page: u32 = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .unwrap_or(0);
            if page == 0 {
                return;
            }
            self.frame_bytes = u64::from(page) + FRAME_HEADER;
        }
        if written * self.frame_bytes > SMALL_BATCH {
            return;
        }
        let end = WAL_HEADER + frames * self.frame_bytes;
        let room = end.clamp(MIN_ROOM, MAX_ROOM);
        let cap = limit.unwrap_or(u64::MAX);
        if end + room <= self.size || self.size >= cap {
            return;
        }
        let Some(size) = files::wal_size(conn) else {
            return;
        };
        self.size = size;
        if end + room <= size || size >= cap {
            return;
        }
        let target = (end + EXTEND_TO * room).min(size + MAX_STEP).min(cap);
        // After a failure (a full disk, a file size limit) no more tries until the WAL
        // restarts.
        self.size = match files::zero_wal(conn, size, target) {
            Ok(()) => target,
            Err(_) => u64::MAX,
        };
    }
}
