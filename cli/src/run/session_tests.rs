//! Unit tests of the client and server state machines over the in-memory loop.

use std::time::Instant;

use super::client::Client;
use super::server::Server;
use super::session::SessionConfig;
use super::smb::Command;
use super::testloop::{CLIENT, Loop, SERVER};
use super::wire::Fault;

const CFG: SessionConfig = SessionConfig {
    credits: 6,
    outstanding: 4,
    io_size: 4096,
};

/// Runs until `ios` I/Os finished (or an error); answers the finished I/Os.
fn drive(
    l: &mut Loop,
    ios: usize,
    mut pick: impl FnMut() -> (Command, bool),
) -> Result<Vec<super::session::Finished>, Fault> {
    let mut server = Server::start(CFG, 9, &mut l.side(SERVER))?;
    let mut client = Client::start(CFG, 9, &mut l.side(CLIENT))?;
    let mut finished = Vec::new();
    for _ in 0..100_000 {
        if finished.len() >= ios {
            return Ok(finished);
        }
        if finished.len() + client.busy() < ios {
            client.pump(&mut l.side(CLIENT), Instant::now(), &mut pick)?;
        }
        while let Some(done) = l.next(SERVER) {
            server.on_done(&mut l.side(SERVER), done)?;
        }
        while let Some(done) = l.next(CLIENT) {
            client.on_done(&mut l.side(CLIENT), done, Instant::now())?;
        }
        finished.extend(client.take_finished());
        assert!(client.busy() <= usize::from(CFG.outstanding));
    }
    Err(Fault(format!("stalled after {} I/Os", finished.len())))
}

#[test]
fn negotiate_then_reads_and_writes_with_both_invalidation_styles() {
    let mut l = Loop::new(usize::from(CFG.credits), usize::from(CFG.outstanding), 4096);
    let mut n = 0u32;
    let done = drive(&mut l, 40, || {
        n += 1;
        let command = if n.is_multiple_of(2) {
            Command::Read
        } else {
            Command::Write
        };
        (command, !n.is_multiple_of(3))
    })
    .expect("clean run");
    assert_eq!(done.len(), 40);
    assert!(done.iter().all(|f| f.bytes == 4096));
    let remote = done.iter().filter(|f| f.remote_invalidate).count();
    assert!(
        remote > 0 && remote < 40,
        "both invalidation styles ran: {remote}"
    );
    assert!(done.iter().any(|f| f.command == Command::Read));
    assert!(done.iter().any(|f| f.command == Command::Write));
}

#[test]
fn credits_never_go_negative_under_a_long_run() {
    // 500 I/Os with 4 outstanding on 6 credits: a leak of one credit per reply would stall.
    let mut l = Loop::new(usize::from(CFG.credits), usize::from(CFG.outstanding), 4096);
    let done = drive(&mut l, 500, || (Command::Read, true)).expect("no stall");
    assert_eq!(done.len(), 500);
}

#[test]
fn corrupted_data_is_caught() {
    let mut l = Loop::new(usize::from(CFG.credits), usize::from(CFG.outstanding), 4096);
    l.corrupt = true;
    let err = drive(&mut l, 4, || (Command::Read, true)).expect_err("corruption");
    assert!(err.0.contains("wrong data"), "{err}");
    let mut l = Loop::new(usize::from(CFG.credits), usize::from(CFG.outstanding), 4096);
    l.corrupt = true;
    let err = drive(&mut l, 4, || (Command::Write, false)).expect_err("corruption");
    assert!(err.0.contains("wrong data"), "{err}");
}

#[test]
fn a_missing_remote_invalidation_is_caught() {
    let mut l = Loop::new(usize::from(CFG.credits), usize::from(CFG.outstanding), 4096);
    l.drop_invalidate = true;
    let err = drive(&mut l, 4, || (Command::Write, true)).expect_err("no invalidation");
    assert!(err.0.contains("invalidated None"), "{err}");
}
