//! Which track AutoDJ plays next: pure rules over a station's playlists and recent plays.
//!
//! 1. An interval playlist that is due (every N songs since it last played) goes first.
//! 2. Scheduled playlists whose calendar slot is on override rotation for the slot.
//! 3. Otherwise a rotation playlist (within its hours, if it has any), chosen by weight.
//!
//! Within a playlist, `sequential` plays in order after the last track played from it;
//! `shuffle` plays every track before any repeats (least recently played first); `random`
//! draws freely. Shuffle and random keep a track out for 60 minutes and an artist or album
//! for 20; when a small library cannot keep those windows they are relaxed one by one
//! (album, artist, then track) rather than going silent.

use rand::Rng;

/// How a playlist orders its tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Shuffle,
    Sequential,
    Random,
}

/// When a playlist plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// In rotation with the others, by weight.
    Rotation,
    /// Instead of rotation while its slot is on.
    Scheduled,
    /// Between tracks when its trigger is due (or cutting in, if the playlist interrupts).
    Interval(Trigger),
}

/// When an interval playlist is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// After every `n` songs.
    Songs(u32),
    /// `n` minutes after it last played.
    Minutes(u32),
    /// At minute `m` of each hour (up to 20 minutes late, never twice an hour).
    AtMinute(u32),
}

/// How late an at-minute playlist may still play.
const AT_MINUTE_GRACE: i64 = 20 * 60;

/// A track as the picker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub media_id: i64,
    pub artist: String,
    pub album: String,
}

/// A playlist as the picker sees it; `on` says whether its calendar (scheduled) or its
/// hours (rotation) allow it now.
#[derive(Debug, Clone)]
pub struct Playlist {
    pub id: i64,
    pub kind: Kind,
    pub order: Order,
    pub weight: u32,
    pub on: bool,
    /// An interval playlist that cuts into the track playing when due.
    pub interrupts: bool,
    pub items: Vec<Item>,
}

/// A recent play, newest first in the list the picker gets.
#[derive(Debug, Clone)]
pub struct Play {
    pub media_id: Option<i64>,
    pub playlist_id: Option<i64>,
    pub artist: String,
    pub album: String,
    /// Seconds ago.
    pub ago: i64,
}

/// Repeat protection windows, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub track: i64,
    pub artist: i64,
    pub album: i64,
}

impl Default for Windows {
    fn default() -> Self {
        Self {
            track: 60 * 60,
            artist: 20 * 60,
            album: 20 * 60,
        }
    }
}

/// The choice: which playlist, which track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub playlist_id: i64,
    pub media_id: i64,
}

/// Whether interval playlist `p` (with `trigger`) is due, `hour_secs` into the hour.
fn is_due(p: &Playlist, trigger: Trigger, recent: &[Play], hour_secs: i64) -> bool {
    let last = recent.iter().find(|r| r.playlist_id == Some(p.id));
    match trigger {
        Trigger::Songs(n) => {
            let since = recent
                .iter()
                .take_while(|r| r.playlist_id != Some(p.id))
                .count();
            // Never played: due once n songs have played at all.
            since >= n as usize && (last.is_some() || recent.len() >= n as usize)
        }
        Trigger::Minutes(n) => last.is_none_or(|l| l.ago >= i64::from(n) * 60),
        Trigger::AtMinute(m) => {
            let since_mark = hour_secs - i64::from(m) * 60;
            (0..AT_MINUTE_GRACE).contains(&since_mark) && last.is_none_or(|l| l.ago > since_mark)
        }
    }
}

/// Whether any interval playlist is due now (it goes before listeners' requests).
pub fn interval_due(playlists: &[Playlist], recent: &[Play], hour_secs: i64) -> bool {
    playlists.iter().any(|p| match p.kind {
        Kind::Interval(t) if !p.items.is_empty() => is_due(p, t, recent, hour_secs),
        _ => false,
    })
}

/// Whether an interval playlist that interrupts is due now (the track playing gives way).
pub fn interrupt_due(playlists: &[Playlist], recent: &[Play], hour_secs: i64) -> bool {
    playlists.iter().any(|p| match p.kind {
        Kind::Interval(t)
            if p.interrupts && !p.items.is_empty() && !matches!(t, Trigger::Songs(_)) =>
        {
            is_due(p, t, recent, hour_secs)
        }
        _ => false,
    })
}

pub fn pick(
    playlists: &[Playlist],
    recent: &[Play],
    windows: Windows,
    hour_secs: i64,
    rng: &mut impl Rng,
) -> Option<Pick> {
    let playable = |p: &&Playlist| !p.items.is_empty();
    // 1. A due interval playlist.
    for p in playlists.iter().filter(playable) {
        if let Kind::Interval(trigger) = p.kind
            && is_due(p, trigger, recent, hour_secs)
            && let Some(item) = within(p, recent, windows, rng)
        {
            return Some(Pick {
                playlist_id: p.id,
                media_id: item,
            });
        }
    }
    // 2. Scheduled playlists on now, else 3. rotation playlists on now.
    let scheduled: Vec<&Playlist> = playlists
        .iter()
        .filter(playable)
        .filter(|p| p.kind == Kind::Scheduled && p.on)
        .collect();
    let pool: Vec<&Playlist> = if scheduled.is_empty() {
        playlists
            .iter()
            .filter(playable)
            .filter(|p| p.kind == Kind::Rotation && p.on)
            .collect()
    } else {
        scheduled
    };
    let total: u64 = pool.iter().map(|p| u64::from(p.weight.max(1))).sum();
    if total == 0 {
        return None;
    }
    let mut ticket = rng.random_range(0..total);
    let chosen = pool.iter().find(|p| {
        let w = u64::from(p.weight.max(1));
        if ticket < w {
            true
        } else {
            ticket -= w;
            false
        }
    })?;
    within(chosen, recent, windows, rng).map(|media_id| Pick {
        playlist_id: chosen.id,
        media_id,
    })
}

/// A track of `p` by its order and the repeat windows.
fn within(p: &Playlist, recent: &[Play], windows: Windows, rng: &mut impl Rng) -> Option<i64> {
    if p.order == Order::Sequential {
        // The one after the last track played from this playlist.
        let last = recent
            .iter()
            .find(|r| r.playlist_id == Some(p.id))
            .and_then(|r| r.media_id);
        let next = last
            .and_then(|m| p.items.iter().position(|i| i.media_id == m))
            .map_or(0, |at| (at + 1) % p.items.len());
        return p.items.get(next).map(|i| i.media_id);
    }
    let last_played = |media: i64| {
        recent
            .iter()
            .find(|r| r.media_id == Some(media))
            .map(|r| r.ago)
    };
    let played_within =
        |secs: i64, same: &dyn Fn(&Play) -> bool| recent.iter().any(|r| r.ago < secs && same(r));
    // The windows, relaxed one at a time until something qualifies.
    let relax = [
        (true, true, true),
        (true, true, false),
        (true, false, false),
        (false, false, false),
    ];
    for (track, artist, album) in relax {
        let allowed: Vec<&Item> = p
            .items
            .iter()
            .filter(|i| {
                !track || !played_within(windows.track, &|r| r.media_id == Some(i.media_id))
            })
            .filter(|i| {
                !artist
                    || i.artist.is_empty()
                    || !played_within(windows.artist, &|r| {
                        r.artist.eq_ignore_ascii_case(&i.artist)
                    })
            })
            .filter(|i| {
                !album
                    || i.album.is_empty()
                    || !played_within(windows.album, &|r| r.album.eq_ignore_ascii_case(&i.album))
            })
            .collect();
        if allowed.is_empty() {
            continue;
        }
        let pool: Vec<&Item> = if p.order == Order::Shuffle {
            // Least recently played first: never-played tracks, else the oldest plays.
            let age = |i: &Item| last_played(i.media_id).unwrap_or(i64::MAX);
            let oldest = allowed.iter().map(|i| age(i)).max().unwrap_or(i64::MAX);
            allowed.into_iter().filter(|i| age(i) == oldest).collect()
        } else {
            allowed
        };
        return pool
            .get(rng.random_range(0..pool.len()))
            .map(|i| i.media_id);
    }
    // Only possible when the playlist is empty.
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn item(id: i64, artist: &str) -> Item {
        Item {
            media_id: id,
            artist: artist.into(),
            album: String::new(),
        }
    }

    fn list(id: i64, kind: Kind, order: Order, items: Vec<Item>) -> Playlist {
        Playlist {
            id,
            kind,
            order,
            weight: 1,
            on: true,
            interrupts: false,
            items,
        }
    }

    fn played(media: i64, playlist: i64, artist: &str, ago: i64) -> Play {
        Play {
            media_id: Some(media),
            playlist_id: Some(playlist),
            artist: artist.into(),
            album: String::new(),
            ago,
        }
    }

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn sequential_plays_in_order_and_wraps() {
        let p = [list(
            1,
            Kind::Rotation,
            Order::Sequential,
            vec![item(10, "a"), item(11, "b"), item(12, "c")],
        )];
        let w = Windows::default();
        assert_eq!(
            pick(&p, &[], w, 0, &mut rng()).map(|p| p.media_id),
            Some(10)
        );
        let recent = [played(11, 1, "b", 5)];
        assert_eq!(
            pick(&p, &recent, w, 0, &mut rng()).map(|p| p.media_id),
            Some(12)
        );
        let recent = [played(12, 1, "c", 5)];
        assert_eq!(
            pick(&p, &recent, w, 0, &mut rng()).map(|p| p.media_id),
            Some(10)
        );
    }

    #[test]
    fn shuffle_keeps_repeat_windows_and_relaxes_them_when_it_must() {
        let p = [list(
            1,
            Kind::Rotation,
            Order::Shuffle,
            vec![item(10, "a"), item(11, "a"), item(12, "b")],
        )];
        let w = Windows::default();
        // 10 just played: 11 has the same artist, so 12.
        let recent = [played(10, 1, "a", 60)];
        for _ in 0..20 {
            assert_eq!(
                pick(&p, &recent, w, 0, &mut rng()).map(|p| p.media_id),
                Some(12)
            );
        }
        // Everything played recently: still plays (the longest ago), never silence.
        let recent = [
            played(12, 1, "b", 60),
            played(11, 1, "a", 120),
            played(10, 1, "a", 180),
        ];
        assert_eq!(
            pick(&p, &recent, w, 0, &mut rng()).map(|p| p.media_id),
            Some(10)
        );
    }

    #[test]
    fn an_interval_playlist_comes_every_n_songs() {
        let music = list(
            1,
            Kind::Rotation,
            Order::Sequential,
            vec![item(10, "a"), item(11, "b")],
        );
        let jingles = list(
            2,
            Kind::Interval(Trigger::Songs(2)),
            Order::Sequential,
            vec![item(90, "")],
        );
        let p = [music, jingles];
        let w = Windows::default();
        let one = [played(10, 1, "a", 10)];
        assert_eq!(
            pick(&p, &one, w, 0, &mut rng()).map(|p| p.playlist_id),
            Some(1)
        );
        let two = [played(11, 1, "b", 10), played(10, 1, "a", 20)];
        assert_eq!(
            pick(&p, &two, w, 0, &mut rng()).map(|p| p.playlist_id),
            Some(2)
        );
        let after = [played(90, 2, "", 5), played(11, 1, "b", 10)];
        assert_eq!(
            pick(&p, &after, w, 0, &mut rng()).map(|p| p.playlist_id),
            Some(1)
        );
    }

    #[test]
    fn timed_interval_playlists() {
        let music = list(1, Kind::Rotation, Order::Sequential, vec![item(10, "a")]);
        let mut ads = list(
            2,
            Kind::Interval(Trigger::Minutes(30)),
            Order::Sequential,
            vec![item(90, "")],
        );
        ads.interrupts = true;
        let mut news = list(
            3,
            Kind::Interval(Trigger::AtMinute(0)),
            Order::Sequential,
            vec![item(95, "")],
        );
        news.interrupts = true;
        let w = Windows::default();
        let p = [music.clone(), ads.clone()];
        // Ads played 10 minutes ago: not yet; 31 minutes ago: due (and cutting in).
        let recent = [played(90, 2, "", 600)];
        assert_eq!(
            pick(&p, &recent, w, 0, &mut rng()).map(|p| p.playlist_id),
            Some(1)
        );
        assert!(!interrupt_due(&p, &recent, 0));
        let recent = [played(90, 2, "", 31 * 60)];
        assert_eq!(
            pick(&p, &recent, w, 0, &mut rng()).map(|p| p.playlist_id),
            Some(2)
        );
        assert!(interrupt_due(&p, &recent, 0));
        // News at the top of the hour: due from :00 for 20 minutes, once.
        let p = [music, news];
        let recent = [played(10, 1, "a", 30)];
        assert_eq!(
            pick(&p, &recent, w, 3540, &mut rng()).map(|p| p.playlist_id),
            Some(1)
        );
        assert_eq!(
            pick(&p, &recent, w, 60, &mut rng()).map(|p| p.playlist_id),
            Some(3)
        );
        assert!(interrupt_due(&p, &recent, 60));
        let after = [played(95, 3, "", 30)];
        assert_eq!(
            pick(&p, &after, w, 90, &mut rng()).map(|p| p.playlist_id),
            Some(1)
        );
        assert!(!interrupt_due(&p, &after, 90));
        assert_eq!(
            pick(&p, &recent, w, 25 * 60, &mut rng()).map(|p| p.playlist_id),
            Some(1),
            "too late"
        );
    }

    #[test]
    fn a_scheduled_playlist_overrides_rotation_while_on() {
        let music = list(1, Kind::Rotation, Order::Random, vec![item(10, "a")]);
        let mut show = list(2, Kind::Scheduled, Order::Random, vec![item(20, "b")]);
        let w = Windows::default();
        let p = [music.clone(), show.clone()];
        assert_eq!(
            pick(&p, &[], w, 0, &mut rng()).map(|p| p.media_id),
            Some(20)
        );
        show.on = false;
        let p = [music, show];
        assert_eq!(
            pick(&p, &[], w, 0, &mut rng()).map(|p| p.media_id),
            Some(10)
        );
    }

    #[test]
    fn weights_share_the_airtime() {
        let mut a = list(1, Kind::Rotation, Order::Random, vec![item(10, "")]);
        a.weight = 3;
        let b = list(2, Kind::Rotation, Order::Random, vec![item(20, "")]);
        let p = [a, b];
        let mut r = rng();
        let n = (0..4000)
            .filter(|_| {
                pick(&p, &[], Windows::default(), 0, &mut r).map(|p| p.playlist_id) == Some(1)
            })
            .count();
        assert!((2800..3200).contains(&n), "{n} of 4000");
    }

    #[test]
    fn nothing_to_play_is_none() {
        assert_eq!(pick(&[], &[], Windows::default(), 0, &mut rng()), None);
        let empty = [list(1, Kind::Rotation, Order::Shuffle, vec![])];
        assert_eq!(pick(&empty, &[], Windows::default(), 0, &mut rng()), None);
    }
}
